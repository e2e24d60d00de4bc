"""Entry point: `python main.py` serves the API; `python main.py --help` lists the admin commands."""

import sys

from BackEnd.cli import main

if __name__ == "__main__":
    sys.exit(main())
