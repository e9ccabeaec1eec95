"""The one exception of the eval suite; its message is meant for the user."""

from kb.errors import KBError


class EvalError(KBError):
    """An eval input (question file, run folder, thresholds) is missing or malformed."""
