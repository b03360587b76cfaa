"""The one error type of the expression language."""

from __future__ import annotations

__all__ = ["ExpressionError"]


class ExpressionError(ValueError):
    """An expression cannot be compiled or evaluated.

    ``position`` is the offset in ``source`` where a syntax error was found (``None``
    for errors found while evaluating).
    """

    def __init__(self, message: str, *, position: int | None = None, source: str | None = None):
        self.message = message
        self.position = position
        self.source = source
        text = message
        if position is not None:
            text = f"{message} at position {position}"
        if source is not None:
            shown = source if len(source) <= 80 else source[:77] + "..."
            text = f"{text} in {shown!r}"
        super().__init__(text)
