"""Errors the command line turns into exit codes."""


class UsageError(Exception):
    """Unusable input or configuration (`arw` exits 2 with this message)."""
