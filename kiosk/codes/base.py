"""The boundary the checkpoint depends on: anything that turns code text into a Verification."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kiosk.model import Verification


class CodeVerifier(Protocol):
    """``kiosk.codes.verifier.Verifier`` is the real one; tests may pass any object like it.

    ``verify`` must never raise for bad input and must return within its configured timeout.
    """

    def verify(self, text: str, now: datetime | None = None) -> Verification: ...
