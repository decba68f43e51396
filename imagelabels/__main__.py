"""`python -m imagelabels` runs the same command as the `imagelabels` console script."""

import sys

from imagelabels.cli import main

sys.exit(main())
