"""Subcommands of the ``monkeycam`` command (argument parsing and reporting only)."""
