"""``python -m copyhead`` runs the command line."""
import sys

from copyhead.cli import main

sys.exit(main())
