"""``python -m gppnmf_core``: the ``gppnmf`` command line (:mod:`gppnmf_core.cli`)."""

import sys

from .cli import main

sys.exit(main())
