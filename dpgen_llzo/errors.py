"""User-facing errors.

Every error a user can cause (a bad argument, a malformed file, a missing field) is raised as
:class:`UserInputError`. The CLI prints its message on one line and exits with code 2; library
callers catch it like any other exception.
"""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad input that the user can fix; the message is one line naming the file/field at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def where(path: object, field: str | None = None) -> str:
    """Format a location for an error message, e.g. ``param.json: model_devi_jobs[0].temps``.

    Parameters
    ----------
    path
        The file the bad value came from.
    field
        The key path inside the file, if any.
    """
    return f"{path}: {field}" if field else str(path)
