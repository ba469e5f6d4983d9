"""Launch the monkeycam desktop app: ``python main.py``."""

from monkeycam.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["--help"]))
