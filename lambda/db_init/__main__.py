"""`python -m db_init` runs the command line."""

import sys

from db_init.cli import main

sys.exit(main())
