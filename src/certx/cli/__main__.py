"""`python -m certx.cli`, as the `certx` script."""
import sys

from certx.cli import main

sys.exit(main())
