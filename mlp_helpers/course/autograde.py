"""Grading without the demonstrations: nbgrader's Execute, except for the lessons' demos.

The notebooks are lessons as well as an assignment. Besides the exercises and their
tests, they hold *demonstrations*: cells that train networks, sweep learning rates, time
batch sizes, draw the figures the text discusses and check the lessons' claims. They call
none of the functions the student writes, and no grade depends on them; left out, they
take grading from 41.5 to 22.7 s a student (3 students, a 2-core AMD EPYC).

Such a cell carries the cell tag ``demonstration``. Under ``nbgrader autograde``, with
the course's ``nbgrader_config.py`` as ``mlp-course nbgrader``
writes it::

    from mlp_helpers.course.autograde import preprocessors
    c.Autograde.autograde_preprocessors = preprocessors()

a demonstration is not run: its output on the student's feedback page is one line that
says so (:data:`SKIPPED`). Everything else runs as nbgrader runs it. A student who runs
the notebook, a release, or nbval, runs every cell: only this preprocessor reads the tag.

What may be tagged (``tests/test_autograde.py`` checks the notebooks): a code cell that
is neither an exercise nor a test, calls no exercise function, and binds no name that a
later untagged cell reads; and every cell that may be tagged is. A tag cannot skip a
graded cell: :func:`is_demonstration` is False for a cell with nbgrader's
``grade`` or ``solution`` metadata, whatever its tags, so a student who tags a test cell
gains nothing (and nbgrader restores a locked test cell's source and metadata anyway).
"""
from nbformat.v4 import new_output

__all__ = ["TAG", "SKIPPED", "is_demonstration", "preprocessors"]   # and SkipDemonstrations, with nbgrader

TAG = "demonstration"
SKIPPED = ("[a demonstration, not graded: the autograder does not run it; "
           "run the notebook yourself to see its output]\n")


def is_demonstration(cell):
    """True for a code cell tagged ``demonstration`` that nbgrader does not grade.

    Args:
        cell: a notebook cell (nbformat's NotebookNode, or a plain dict).
    """
    metadata = cell.get("metadata", {})
    nbgrader = metadata.get("nbgrader", {})
    return (cell.get("cell_type") == "code" and TAG in metadata.get("tags", [])
            and not nbgrader.get("grade") and not nbgrader.get("solution"))


try:                        # nbgrader is the instructors' (requirements-instructor.txt)
    from nbgrader.preprocessors import Execute
except ImportError:
    Execute = None

NEEDS_NBGRADER = "mlp_helpers.course.autograde needs nbgrader: pip install -r requirements-instructor.txt"

if Execute is not None:
    class SkipDemonstrations(Execute):
        """nbgrader's Execute preprocessor that leaves out the demonstration cells.

        Configured as ``Execute`` is (``c.Execute.timeout`` applies: traitlets reads the
        settings of a parent class too).
        """

        def preprocess(self, nb, resources=None, km=None):
            """Execute's preprocess; a notebook with nothing to run starts no kernel.

            (Notebooks 00 and 05 hold no exercise: every code cell is a demonstration.)
            """
            if any(_runs(cell) for cell in nb.cells):
                return super().preprocess(nb, resources, km=km)
            for cell in nb.cells:
                if is_demonstration(cell):
                    _mark_skipped(cell)
            return nb, resources

        def preprocess_cell(self, cell, resources, index):
            if is_demonstration(cell):
                return _mark_skipped(cell), resources
            return super().preprocess_cell(cell, resources, index)


def _runs(cell):
    """True for a cell the autograder executes: code, not empty, not a demonstration."""
    return cell.get("cell_type") == "code" and bool(cell.get("source", "").strip()) \
        and not is_demonstration(cell)


def _mark_skipped(cell):
    """The demonstration's outputs replaced by the one-line note (:data:`SKIPPED`)."""
    cell.outputs = [new_output("stream", name="stdout", text=SKIPPED)]
    cell.execution_count = None
    return cell


def preprocessors():
    """nbgrader's list of autograde preprocessors, with :class:`SkipDemonstrations` for Execute.

    The rest of the list is nbgrader's own default, read from the installed nbgrader, so
    that a newer nbgrader's preprocessors are kept.
    """
    if Execute is None:
        raise ImportError(NEEDS_NBGRADER)
    from nbgrader.converters import Autograde

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    if Execute not in default:
        raise RuntimeError(f"nbgrader's autograde preprocessors have no Execute to replace: {default}")
    return [SkipDemonstrations if p is Execute else p for p in default]
