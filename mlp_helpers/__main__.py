"""``python -m mlp_helpers``: the same as the ``mlp-course`` command (:mod:`mlp_helpers.cli`)."""
import sys

from .cli import main

sys.exit(main())
