"""The learning-rate explorer in a real browser: Voila serves the notebook, headless Chromium uses it.

Needs Debian's chromium (`bash .ci/browser-setup.sh` installs it) and the Python
package playwright. Playwright's own browser downloads are not used: the test
points it at /usr/bin/chromium. Where Chromium cannot start, the test is skipped
and the reason is printed (run pytest with -rs to see it in the summary).

The screenshot goes to test-artifacts/explorer.png (gitignored).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_learning_rate_explorer.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The Voila command the README documents: markdown cells are left out, so the app is the explorer.
VOILA_ARGS = ["--no-browser", "--Voila.ip=127.0.0.1", "--TemplateExporter.exclude_markdown=True"]


def _skip(reason):
    print(f"SKIPPED test_browser: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through playwright, or a printed skip saying why not."""
    try:
        from playwright.sync_api import Error as PlaywrightError, sync_playwright
    except ImportError as exc:
        _skip(f"python package playwright is not installed ({exc}); pip install -r requirements.txt")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _skip(f"no Chromium at {CHROMIUM}; run `bash .ci/browser-setup.sh` as root "
              "(apt-get install -y chromium)")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
    except PlaywrightError as exc:
        manager.stop()
        _skip(f"Chromium at {CHROMIUM} could not start: {str(exc).splitlines()[0]}")
    yield chromium
    chromium.close()
    manager.stop()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory):
    """Voila serving the explorer notebook on a free localhost port; always terminated."""
    voila = shutil.which("voila", path=os.path.dirname(sys.executable)) or shutil.which("voila")
    if voila is None:
        pytest.fail("voila is not installed (it is in requirements.txt)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(log_path, "w") as log:
        process = subprocess.Popen([voila, *VOILA_ARGS, f"--port={port}", str(NOTEBOOK)],
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"voila exited with code {process.returncode}:\n{log_path.read_text()}")
            try:
                urllib.request.urlopen(url + "api", timeout=2)
                break
            except urllib.error.HTTPError:      # any HTTP answer means the server is up
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"voila did not answer on {url} within 60 s:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _plot_src(page):
    return page.eval_on_selector(".lr-explorer img", "img => img.src")


def test_explorer_trains_in_a_browser(browser, voila_url):
    page = browser.new_page(viewport={"width": 1100, "height": 820})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(voila_url, timeout=60_000)
        # Voila executes the notebook, then the widget manager renders the explorer.
        page.wait_for_selector(".lr-explorer .lr-explorer-readout", timeout=60_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('.lr-explorer img');"
            " return i && i.naturalWidth > 0; }", timeout=30_000)
        readout = page.locator(".lr-explorer-readout")
        assert "Press Train" in readout.inner_text()
        plot_before = _plot_src(page)

        # Move the learning-rate slider: type into its editable read-out, as a person can.
        slider = page.locator(".lr-explorer .widget-hslider").filter(has_text="learning rate")
        box = slider.locator(".widget-readout")
        box.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("0.3")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.lr-explorer .widget-hslider .widget-readout')"
            ".textContent.trim() === '0.300'", timeout=10_000)
        # ... and nudge it one step with the keyboard (steps of 0.05 in log10: 0.3 -> 0.355).
        slider.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('.lr-explorer .widget-hslider .widget-readout')"
            ".textContent.trim() !== '0.300'", timeout=10_000)
        lr_shown = box.inner_text().strip()
        assert 0.3 < float(lr_shown) < 0.4, lr_shown
        # Ask for more epochs than the test will wait for (the box takes the value on Enter).
        epochs = page.locator(".lr-explorer .widget-inline-hbox").filter(has_text="epochs").locator("input")
        epochs.fill("100")
        epochs.press("Enter")

        clicked = time.monotonic()
        page.locator(".lr-explorer button", has_text="Train").click()
        # While it trains: the read-out names the run's learning rate and its progress ...
        page.wait_for_function(
            "lr => { const t = document.querySelector('.lr-explorer-readout').textContent;"
            " return t.includes('run 1: lr = ' + lr + ',') && /running, epoch/.test(t); }",
            arg=lr_shown, timeout=20_000)
        # ... and the plot is a new picture.
        page.wait_for_function(f"() => document.querySelector('.lr-explorer img').src !== {plot_before!r}",
                               timeout=20_000)
        first_update = time.monotonic() - clicked
        # Stop the run long before its 100 epochs, and see it reported as stopped.
        clicked = time.monotonic()
        page.locator(".lr-explorer button", has_text="Stop").click()
        page.wait_for_function(
            "() => /stopped.*validation accuracy/.test("
            "document.querySelector('.lr-explorer-readout').textContent)", timeout=20_000)
        # Seen from the browser, round trips included (printed, not asserted: see
        # `mlp-course explorer-latency` for the measurement of the kernel side).
        print(f"browser: Train click -> new plot {1000 * first_update:.0f} ms (includes the wait "
              f"for the read-out); Stop click -> 'stopped' shown {1000 * (time.monotonic() - clicked):.0f} ms")
        text = readout.inner_text()
        assert re.search(r"stopped, epoch \d+\.\d / 100,", text), text
        accuracy = float(re.search(r"validation accuracy ([\d.]+)%", text).group(1))
        assert 30 <= accuracy <= 100, text
        # The widget enables Train before it writes "stopped"; each is its own message
        # to the browser, so wait for the button's state rather than read it at once.
        page.wait_for_function(
            "() => [...document.querySelectorAll('.lr-explorer button')]"
            ".some(b => b.textContent.includes('Train') && !b.disabled)", timeout=5_000)
        assert _plot_src(page) != plot_before
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
        assert not errors, errors
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "explorer-failure.png"), full_page=True)
        print("page text at failure:\n" + page.inner_text("body"), file=sys.stderr)
        raise
    finally:
        page.close()
