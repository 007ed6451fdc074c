"""The one exception the code parsers raise: it carries a stable reason code, never code text."""

from __future__ import annotations


class CodeError(Exception):
    """A code failed a check; ``reason`` is a code from ``kiosk.reasons`` (e.g. code.expired).

    The message is for logs and must never contain the code's text, an ID number or a name.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
