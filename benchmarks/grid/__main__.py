"""``python -m benchmarks.grid ...`` (from the repository root): run a benchmark grid and write its report."""

import sys

from benchmarks.grid.cli import main

sys.exit(main())
