"""``python -m demo``: the KDEP demo end to end (see :mod:`demo.cli`)."""
import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
