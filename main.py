"""Launch the monkeycam desktop app: ``python main.py`` (options: ``python main.py --help``)."""

import sys

from monkeycam.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["app", *sys.argv[1:]]))
