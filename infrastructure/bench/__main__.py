"""`python -m infrastructure.bench`: run the benchmark."""

import sys

from infrastructure.bench.cli import main

if __name__ == "__main__":  # writer processes re-import this module; they must not run it
    sys.exit(main())
