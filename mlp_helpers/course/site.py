"""The course as a website: the worked notebooks, with their committed outputs, as static HTML.

``mlp-course site [OUTDIR]`` builds it with Sphinx, myst-nb and the book theme (pure
Python, from requirements-site.txt), without running a notebook: navigation, the maths
(MathJax, served from the site itself, so it renders offline), the figures as committed.
Sphinx's settings are docs/site/conf.py, the front page docs/site/index.md.

The build reads a private copy of the sources (the notebooks and the front page) in a
temporary folder and writes there too; OUTDIR appears, whole, only when the build has
finished without a warning (a warning is an error). An OUTDIR that holds anything but an
earlier site is refused; an earlier site is replaced.
"""
import contextlib
import io
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SiteError", "Site", "build_site", "MARKER"]

ROOT = Path(__file__).resolve().parent.parent.parent
SITE_SOURCES = ROOT / "docs" / "site"
MARKER = ".mlp-course-site"      # the file that says a folder is a site this command built


class SiteError(Exception):
    """The site cannot be built (a package missing, a Sphinx warning, OUTDIR in the way)."""


@dataclass
class Site:
    """What ``build_site`` wrote: OUTDIR, its pages (.html files), and the seconds it took."""
    outdir: Path
    pages: int
    seconds: float


def _mathjax_dir():
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SiteError("the site needs its packages: pip install -r requirements-site.txt") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _check_outdir(outdir):
    if outdir.exists() and not outdir.is_dir():
        raise SiteError(f"OUTDIR {outdir} exists and is not a folder")
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / MARKER).is_file():
        raise SiteError(f"refusing to replace {outdir}: it is not empty and not a site built by "
                        f"mlp-course site (no {MARKER} in it); give another OUTDIR")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p><em>The live widget appears here when the notebook runs in Jupyter (or as an app in "
               "Voila). A static page cannot train a network: the scripted tour below shows what it "
               "does.</em></p>")


def _without_live_widgets(nb):
    """``nb`` with each live widget's output replaced by a note saying where it runs."""
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE, "text/plain": "(a live widget)"}
    return nb


def _stage(sources, notebooks):
    """Copy the front page and the notebooks into the folder ``sources`` (live widgets noted)."""
    import nbformat

    shutil.copy(SITE_SOURCES / "index.md", sources / "index.md")
    (sources / "notebooks").mkdir()
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as error:       # nbformat raises several kinds for a file that is not a notebook
            raise SiteError(f"{path}: not a readable notebook ({error})") from None
        nbformat.write(_without_live_widgets(nb), sources / "notebooks" / path.name)


def build_site(outdir="site", notebooks=None):
    """Build the website of ``notebooks`` (default: the repository's notebooks/*.ipynb) into ``outdir``.

    Returns :class:`Site`. Raises SiteError (with Sphinx's warnings, one a line) when the
    build warns or fails, or when OUTDIR holds something else; nothing is written then.
    """
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        raise SiteError("the site needs its packages: pip install -r requirements-site.txt") from None
    mathjax = _mathjax_dir()
    outdir = Path(outdir)
    notebooks = sorted(Path(nb) for nb in notebooks) if notebooks else sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise SiteError("no notebooks to build a site of")
    missing = [str(nb) for nb in notebooks if not nb.is_file()]
    if missing:
        raise SiteError(f"notebook not found: {', '.join(missing)}")
    _check_outdir(outdir)
    start = time.perf_counter()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".site-", dir=outdir.parent) as scratch:
        scratch = Path(scratch)
        sources, html = scratch / "src", scratch / "html"
        sources.mkdir()
        _stage(sources, notebooks)
        log = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(log):
            code = build_main(["-b", "html", "-c", str(SITE_SOURCES), "-W", "--keep-going", "-q",
                               "-d", str(scratch / "doctrees"), str(sources), str(html)])
        warnings = [line for line in log.getvalue().splitlines() if line.strip()]
        if code != 0 or warnings:
            shown = "\n  ".join(line.replace(str(sources) + "/", "") for line in warnings[:20]) or f"exit code {code}"
            raise SiteError(f"the site's build failed (Sphinx, warnings are errors):\n  {shown}")
        shutil.copytree(mathjax, html / "_static" / "mathjax")
        (html / MARKER).write_text("built by mlp-course site\n")
        old = scratch / "old"
        if outdir.exists():
            outdir.rename(old)          # an earlier site (checked above), removed with the scratch folder
        html.rename(outdir)
    pages = sum(1 for _ in outdir.rglob("*.html"))
    return Site(outdir, pages, time.perf_counter() - start)
