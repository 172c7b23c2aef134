"""The course as an assignment: what students run to check themselves, and what instructors run.

* :mod:`.checks`: the students' self-checks, called in the notebooks, and
  :mod:`.diagnosis`, the engine that names a failed check's likely cause;
* :mod:`.release`: the student release (solutions stubbed, hidden tests out, outputs
  cleared), behind ``mlp-course release``;
* :mod:`.nbgrader`: the nbgrader course of the same notebooks, behind ``mlp-course nbgrader``;
* :mod:`.autograde`: the preprocessor that skips the lessons' demonstrations under
  ``nbgrader autograde``.

Only the command line (:mod:`mlp_helpers.cli`) and the notebooks import this package;
the rule is an import-linter contract in pyproject.toml.
"""
