"""``python -m fusionlab.cli``: the ``fusionlab`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
