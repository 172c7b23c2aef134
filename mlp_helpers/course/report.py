"""The class report: what a class got wrong, from an nbgrader course after ``autograde``.

``mlp-course report COURSE`` reads the course's gradebook (read-only) and its autograded
notebooks and writes one page, COURSE/reports/ASSIGNMENT-class-report.html, and the same
as markdown beside it:

* per exercise (an autograded test cell), how many students passed it;
* per exercise, the likely causes of the failures, ranked with their counts
  ("dl_do: a flipped sign, 14 of 100"), read from each failed check's message by
  :func:`~mlp_helpers.course.diagnosis.cause_of`, the same engine that wrote the
  feedback, so the report and each student's feedback agree;
* one anonymised example of each cause's feedback (the student's id removed);
* the distribution of total scores, as a histogram;
* the slowest cells, from the execution times the autograded notebooks record.

Everything a submission printed is treated as untrusted text: escaped in the HTML, fenced
in the markdown. The report files are written atomically.
"""
import base64
import html
import io
import re
import sqlite3
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .._io import atomic_write
from .diagnosis import cause_of

__all__ = ["ReportError", "ClassReport", "read_course", "write_report"]

SLOWEST = 5            # cells listed under "slowest cells"
_CHECK_CALL = re.compile(r"\b(check_\w+)\(\s*([A-Za-z_]\w*)?")
_DEF = re.compile(r"^\s*def (\w+)\(", re.M)
_NAME = re.compile(r"[A-Za-z_]\w*")

_GRADES = """
SELECT st.id, nb.name, bc.name, gc.max_score, g.auto_score, g.manual_score, g.extra_credit
FROM grade g
JOIN submitted_notebook sn ON g.notebook_id = sn.id
JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN assignment a ON sa.assignment_id = a.id
JOIN student st ON sa.student_id = st.id
JOIN notebook nb ON sn.notebook_id = nb.id
JOIN base_cell bc ON g.cell_id = bc.id
JOIN grade_cells gc ON gc.id = bc.id
WHERE a.name = ?
"""


class ReportError(Exception):
    """The course cannot be reported on (not a course, not autograded, a damaged gradebook)."""


@dataclass
class Exercise:
    """One graded cell: its notebook, grade id, a readable name, and what each student got."""
    notebook: str
    grade_id: str
    name: str
    max_score: float
    scores: dict = field(default_factory=dict)            # student -> score
    causes: dict = field(default_factory=dict)            # student -> cause (failed only)
    messages: dict = field(default_factory=dict)          # student -> the feedback's message

    @property
    def passed(self):
        return sum(score >= self.max_score for score in self.scores.values())

    def ranked_causes(self):
        return Counter(self.causes.values()).most_common()


@dataclass
class ClassReport:
    """What :func:`read_course` found: the exercises, each student's total, the slowest cells."""
    course: Path
    assignment: str
    exercises: list
    totals: dict                  # student -> total score
    max_total: float
    slowest: list                 # [(median seconds, max seconds, notebook, cell label)]

    @property
    def students(self):
        return sorted(self.totals)


def _connect(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        con.execute("SELECT count(*) FROM grade").fetchone()
        return con
    except sqlite3.Error as error:
        raise ReportError(f"{db} is not a readable nbgrader gradebook ({error})") from None


def _exercise_name(source_nb, grade_id, fallback):
    """The function a test cell checks: the first of the notebook's exercise functions (the
    ``def``s of its solution cells) that the cell names, e.g. dl_do in
    ``check_softmax_grad(dl_do)``; else the check's own name."""
    defined = set(_DEF.findall("\n".join(c.source for c in source_nb.cells if "BEGIN SOLUTION" in c.source)))
    for cell in source_nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            if cell.cell_type != "code":
                return f"written answer ({grade_id})"
            named = [name for name in _NAME.findall(cell.source) if name in defined]
            if named:
                return named[0]
            calls = _CHECK_CALL.findall(cell.source)
            return calls[-1][0] if calls else fallback
    return fallback


def _failure(cell):
    """(cause, message) of a failed graded cell of an autograded notebook."""
    errors = [o for o in cell.get("outputs", ()) if o.get("output_type") == "error"]
    if not errors:
        return "failed without an error message (a timeout, or the cell did not run)", ""
    ename, evalue = errors[-1].get("ename", ""), errors[-1].get("evalue", "")
    return cause_of(ename, evalue), f"{ename}: {evalue}"


def _seconds(cell):
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    try:
        parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))   # noqa: E731
        return (parse(end) - parse(start)).total_seconds()
    except ValueError:
        return None


def _cell_label(cell):
    lines = [line.strip() for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
    text = lines[0] if lines else "(comments only)"
    return text if len(text) <= 70 else text[:67] + "..."


def read_course(course, assignment="mlp"):
    """Read an autograded nbgrader course: :class:`ClassReport`. ReportError says what is missing."""
    import nbformat

    course = Path(course)
    if not course.is_dir():
        raise ReportError(f"COURSE {course} is not a folder")
    db = course / "gradebook.db"
    source = course / "source" / assignment
    if not db.is_file() or not source.is_dir():
        raise ReportError(f"{course} is not an nbgrader course with assignment {assignment!r} (it needs "
                          f"gradebook.db and source/{assignment}/; see `mlp-course nbgrader`)")
    autograded = sorted(course.glob(f"autograded/*/{assignment}"))
    con = _connect(db)
    try:
        rows = con.execute(_GRADES, (assignment,)).fetchall()
    except sqlite3.Error as error:
        raise ReportError(f"{db} is not a readable nbgrader gradebook ({error})") from None
    finally:
        con.close()
    if not rows or not autograded:
        raise ReportError(f"{course}: assignment {assignment!r} has not been autograded yet "
                          f"(run `nbgrader autograde {assignment}` first)")

    sources, exercises = {}, {}
    for student, notebook, grade_id, max_score, auto, manual, extra in rows:
        if notebook not in sources:
            path = source / f"{notebook}.ipynb"
            sources[notebook] = nbformat.read(path, as_version=4) if path.is_file() else nbformat.v4.new_notebook()
        key = (notebook, grade_id)
        if key not in exercises:
            exercises[key] = Exercise(notebook, grade_id, _exercise_name(sources[notebook], grade_id, grade_id),
                                      float(max_score or 0))
        score = manual if manual is not None else auto
        exercises[key].scores[student] = float(score or 0) + float(extra or 0)

    timings = defaultdict(list)
    for folder in autograded:
        student = folder.parent.name
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception as error:          # nbformat raises several kinds for a damaged file
                raise ReportError(f"{path}: not a readable notebook ({error})") from None
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and (seconds := _seconds(cell)) is not None:
                    timings[(path.stem, index, _cell_label(cell))].append(seconds)
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                exercise = exercises.get((path.stem, grade_id))
                if exercise is None or exercise.scores.get(student, 0) >= exercise.max_score:
                    continue
                cause, message = _failure(cell)
                exercise.causes[student] = cause
                exercise.messages[student] = message.replace(student, "STUDENT")

    ordered = sorted(exercises.values(), key=lambda e: (e.notebook, _order(sources[e.notebook], e.grade_id)))
    totals = defaultdict(float)
    for exercise in ordered:
        for student, score in exercise.scores.items():
            totals[student] += score
    slowest = sorted(((statistics.median(v), max(v), nb, label) for (nb, _, label), v in timings.items()),
                     reverse=True)[:SLOWEST]
    return ClassReport(course, assignment, ordered, dict(totals), sum(e.max_score for e in ordered), slowest)


def _order(nb, grade_id):
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    return len(nb.cells)


# ------------------------------------------------------------------------------ writing

def _histogram_png(report):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = list(report.totals.values())
    top = int(report.max_total)
    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=100)
    ax.hist(totals, bins=[i - 0.5 for i in range(top + 2)], color="#0072B2", edgecolor="white")
    ax.set_xlabel(f"total score (of {report.max_total:g})")
    ax.set_ylabel("students")
    ax.set_xticks(range(0, top + 1, max(1, top // 12)))
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _text_histogram(report):
    counts = Counter(int(round(t)) for t in report.totals.values())
    widest = max(counts.values())
    return [f"{score:>3} | {'#' * max(1, round(30 * counts[score] / widest)) if counts[score] else ''} "
            f"{counts[score] or ''}".rstrip() for score in range(int(report.max_total) + 1)]


def _fence(text):
    return "```text\n" + text.replace("```", "'''") + "\n```"


def _examples(exercise):
    """{cause: an anonymised message} (the first student's, in name order)."""
    examples = {}
    for student in sorted(exercise.causes):
        examples.setdefault(exercise.causes[student], exercise.messages[student])
    return examples


def to_markdown(report):
    n = len(report.totals)
    lines = [f"# Class report: {report.assignment}", "",
             f"{n} students, {len(report.exercises)} graded exercises; course {report.course}.", "",
             "## Per exercise", "", "| notebook | exercise | passed | likely causes of the failures |", "|---|---|---|---|"]
    for e in report.exercises:
        causes = "; ".join(f"{cause}, {count} of {n}" for cause, count in e.ranked_causes()) or "none"
        lines.append(f"| {e.notebook} | {e.name} | {e.passed} of {len(e.scores)} | {causes.replace('|', '/')} |")
    lines += ["", "## One example of each cause's feedback (anonymised)", ""]
    for e in report.exercises:
        for cause, message in _examples(e).items():
            lines += [f"**{e.name}: {cause}**", "", _fence(message or "(no message)"), ""]
    lines += ["## Total scores", "", "```text", *_text_histogram(report), "```", "",
              "## Slowest cells (seconds, median and slowest over the students)", "",
              "| notebook | cell | median s | max s |", "|---|---|---|---|"]
    lines += [f"| {nb} | `{label.replace('`', '')}` | {med:.2f} | {top:.2f} |" for med, top, nb, label in report.slowest]
    return "\n".join(lines) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.bar{background:#0072B2;height:.8rem;display:inline-block}
pre{background:#f7f7f7;padding:.6rem;white-space:pre-wrap;border-left:3px solid #D55E00}h2{margin-top:2rem}
.ok{color:#009E73}.bad{color:#D55E00}"""


def to_html(report):
    esc = html.escape
    n = len(report.totals)
    rows = []
    for e in report.exercises:
        share = e.passed / max(1, len(e.scores))
        causes = "".join(f"<li>{esc(cause)}: <b>{count} of {n}</b></li>" for cause, count in e.ranked_causes())
        rows.append(f"<tr><td>{esc(e.notebook)}</td><td><code>{esc(e.name)}</code></td>"
                    f"<td class=\"{'ok' if share == 1 else 'bad'}\">{e.passed} of {len(e.scores)} "
                    f"<span class=\"bar\" style=\"width:{4 * share:.2f}rem\"></span></td>"
                    f"<td>{'<ul>' + causes + '</ul>' if causes else 'none'}</td></tr>")
    examples = "".join(f"<h3><code>{esc(e.name)}</code>: {esc(cause)}</h3><pre>{esc(message or '(no message)')}</pre>"
                       for e in report.exercises for cause, message in _examples(e).items())
    slow = "".join(f"<tr><td>{esc(nb)}</td><td><code>{esc(label)}</code></td><td>{med:.2f}</td><td>{top:.2f}</td></tr>"
                   for med, top, nb, label in report.slowest)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Class report: {esc(report.assignment)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>{_STYLE}</style></head><body>
<h1>Class report: {esc(report.assignment)}</h1>
<p>{n} students, {len(report.exercises)} graded exercises; course <code>{esc(str(report.course))}</code>.</p>
<h2>Per exercise</h2>
<table><tr><th>notebook</th><th>exercise</th><th>passed</th><th>likely causes of the failures</th></tr>
{''.join(rows)}</table>
<h2>Total scores</h2>
<img alt="histogram of the total scores" src="data:image/png;base64,{_histogram_png(report)}">
<h2>One example of each cause's feedback (anonymised)</h2>
{examples or '<p>No failures.</p>'}
<h2>Slowest cells</h2>
<p>Seconds a cell ran under autograde, median and slowest over the students.</p>
<table><tr><th>notebook</th><th>cell</th><th>median s</th><th>max s</th></tr>{slow}</table>
</body></html>
"""


def write_report(report, outdir=None):
    """Write the HTML page and the markdown of ``report``; their paths (html, md)."""
    outdir = Path(outdir) if outdir is not None else report.course / "reports"
    outdir.mkdir(parents=True, exist_ok=True)
    stem = f"{report.assignment}-class-report"
    paths = outdir / f"{stem}.html", outdir / f"{stem}.md"
    for path, text in zip(paths, (to_html(report), to_markdown(report))):
        with atomic_write(path, "w") as f:
            f.write(text)
    return paths
