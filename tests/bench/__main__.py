"""`python -m tests.bench` (or `make bench`): run the benchmark."""

import sys

from tests.bench.cli import main

if __name__ == "__main__":  # writer processes re-import this module; they must not run it
    sys.exit(main())
