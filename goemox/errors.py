"""Errors that goemox reports to users as plain messages (the CLI prints them without a traceback)."""


class GoEmoXError(ValueError):
    """Base class of every error caused by the user's input, files or options."""


class GoEmoXUsageError(GoEmoXError):
    """Options that cannot work together, or a path or model that is not what was expected."""
