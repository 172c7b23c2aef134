"""The course as a website (issue 28): ``mlp-course site`` builds, and the pages work in a browser.

Builds the site from the committed notebooks (a Sphinx warning fails the build), serves
it on loopback, and opens every page in the headless Chromium of tests/test_browser.py:
each page loads with no failed request, the maths is rendered by MathJax (no formula left
as raw TeX, no MathJax error), every image loads, and every internal link leads to a page
(and an anchor) that exists. Needs requirements-site.txt; without it the test is skipped,
except in CI (``MLP_CI=1``), where that is a failure.
"""
import functools
import http.server
import importlib.util
import os
import re
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from mlp_helpers import cli
from test_browser import browser  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NEEDS = ("sphinx", "myst_nb", "sphinx_book_theme", "jupyter_server_mathjax")
# MathJax: every formula it found became a script element; each must have been typeset
MATH_STATE = """() => ({
    found: document.querySelectorAll('script[type^="math/tex"]').length,
    typeset: document.querySelectorAll('.MathJax, .MathJax_Display').length,
    errors: document.querySelectorAll('.MathJax_Error, merror, .merror').length,
    raw: [...document.querySelectorAll('article p, article li, article h1, article h2, article h3, article td')]
        .map(e => e.innerText).filter(s => /\\\\\\(|\\\\\\[|\\$\\$/.test(s)).slice(0, 3),
})"""
MATHJAX_DONE = ("() => window.MathJax === undefined || (MathJax.Hub && MathJax.Hub.Queue(() => "
                "{ window._typeset = true; }) && window._typeset === true)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        reason = f"the site's packages are missing ({', '.join(missing)}): pip install -r requirements-site.txt"
        if os.environ.get("MLP_CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    outdir = tmp_path_factory.mktemp("site") / "site"
    assert cli.main(["site", str(outdir)]) == 0
    return outdir


@pytest.fixture(scope="module")
def served(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_build_has_a_page_per_notebook_and_the_front_page(site):
    assert (site / "index.html").is_file() and (site / ".mlp-course-site").is_file()
    for nb in NOTEBOOKS:
        assert (site / "notebooks" / f"{nb.stem}.html").is_file(), nb.name


def test_rebuilding_replaces_the_site_and_refuses_other_folders(site, tmp_path, capsys):
    assert cli.main(["site", str(site)]) == 0                 # an earlier site: replaced
    assert "Built the site, " in capsys.readouterr().out
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    assert cli.main(["site", str(other)]) == 2
    assert capsys.readouterr().err == (f"mlp-course site: error: refusing to replace {other}: it is not empty and "
                                       f"not a site built by mlp-course site (no .mlp-course-site in it); "
                                       f"give another OUTDIR\n")
    assert [p.name for p in other.iterdir()] == ["mine.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site-")]   # no scratch left


def test_a_notebook_that_breaks_the_build_says_why_and_writes_nothing(tmp_path, capsys):
    import nbformat

    if importlib.util.find_spec("sphinx") is None:
        pytest.skip("sphinx is not installed")
    bad = tmp_path / "bad.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("no title, and a [link](missing.ipynb)")])
    nbformat.write(nb, bad)
    assert cli.main(["site", str(tmp_path / "out"), "--notebooks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlp-course site: error: the site's build failed (Sphinx, warnings are errors):")
    assert not (tmp_path / "out").exists()


def _optional(url):
    """Requests whose 404 is expected: the browser's favicon, and MathJax 2 probing for its
    TeX fonts before it falls back to the STIX-Web font the package ships (and conf.py sets)."""
    return url.endswith("/favicon.ico") or "/_static/mathjax/fonts/HTML-CSS/TeX/" in url


def _pages(site):
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if "_static" not in p.parts)


def test_every_page_works_in_a_browser(site, served, browser):  # noqa: F811
    page = browser.new_page()
    failed = []
    page.on("requestfailed", lambda r: r.url.startswith(served) and not _optional(r.url)
            and failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and not _optional(r.url) and failed.append(f"{r.status} {r.url}"))
    anchors, links = {}, []
    typeset_total = 0
    for name in _pages(site):
        response = page.goto(served + name)
        assert response.ok, name
        page.wait_for_function(MATHJAX_DONE, timeout=60_000, polling=200)
        math = page.evaluate(MATH_STATE)
        assert math["typeset"] >= math["found"] and math["errors"] == 0 and math["raw"] == [], (name, math)
        typeset_total += math["typeset"]
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], (name, broken)
        anchors[name] = set(page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)"))
        links += [(name, href) for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
                  if href.startswith(served)]
    page.close()
    assert failed == []
    assert typeset_total > 300            # notebook 01 alone has about 290 formulas
    for name, href in links:
        target, fragment = urldefrag(href)
        path = urlparse(target).path.lstrip("/") or "index.html"
        if path.endswith("/"):
            path += "index.html"
        if path.endswith(".html") and "_static" not in path:
            assert path in anchors, f"{name}: link to a missing page {href}"
            assert not fragment or fragment in anchors[path], f"{name}: link to a missing anchor {href}"
        else:
            assert (site / path).is_file(), f"{name}: link to a missing file {href}"


def test_the_figures_of_the_notebooks_are_on_the_site(site):
    """Every image output of a notebook is an image on its page (none dropped, no re-execution)."""
    import nbformat

    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        pngs = sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.outputs)
        html = (site / "notebooks" / f"{nb_path.stem}.html").read_text(encoding="utf-8")
        assert len(re.findall(r"<img [^>]*src=", html)) >= pngs, nb_path.name


def test_the_explorer_page_shows_a_note_not_a_dead_widget(site):
    html = (site / "notebooks" / "05_learning_rate_explorer.html").read_text(encoding="utf-8")
    assert "The live widget appears here when the notebook runs in Jupyter" in html
    assert "VBox(children" not in html and "widget-view+json" not in html
