"""`python -m detector`: the command line."""

from .cli import main

raise SystemExit(main())
