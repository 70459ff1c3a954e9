"""``python -m drift_monitor ...``: the same as the ``drift-monitor`` command."""

import sys

from ._cli import main

sys.exit(main())
