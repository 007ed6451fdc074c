"""Least data: masked names and keyed hashes of subject identifiers; nothing more leaves."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_SPLIT = re.compile(r"[\s,<]+")
_ID_NUMBER = re.compile(r"\d{17}[\dXx]|\d{15}", re.ASCII)
MAX_NAME = 64


def _is_cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY"))


def mask_name(name: str | None) -> str | None:
    """Mask a person's name so that staff can match a face, not identify a stranger.

    Chinese names (any CJK ideograph, no spaces): keep the first and last character and
    replace each one between with ``*`` — 张小中 → 张*中, 欧阳小明 → 欧**明, 张三 → 张*,
    a single character → ``*``. Other names: each word (split on whitespace, commas and ``<``)
    keeps its first letter and the rest becomes one ``*`` — Gabriele Musterfrau → G* M*.
    Masking a masked name changes nothing. Empty input gives ``None``. docs/county-pass.md §3
    defines "Chinese name" and "word" exactly.
    """
    if name is None:
        return None
    text = unicodedata.normalize("NFC", name).strip()[:MAX_NAME]
    if not text:
        return None
    if any(_is_cjk(c) for c in text) and not any(c.isspace() for c in text):
        if len(text) == 1:
            return "*"
        if len(text) == 2:
            return text[0] + "*"
        return text[0] + "*" * (len(text) - 2) + text[-1]
    words = [w for w in _SPLIT.split(text) if w]
    return " ".join(w if not w.strip("*") else w[0] + "*" for w in words) or None


def looks_like_id_number(text: str) -> bool:
    """True for a mainland resident ID number (18 characters, or the old 15 digits)."""
    return _ID_NUMBER.fullmatch(text.strip()) is not None


class SubjectHasher:
    """HMAC-SHA256 with the kiosk's own key over ``namespace NUL identifier``, as hex.

    The county can link entries of one person across kiosks only with each kiosk's key; a
    leaked ledger alone links nothing to a person. Without a key there is no hash (``None``).
    """

    def __init__(self, key: bytes | None) -> None:
        self._key = key

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def __call__(self, namespace: str, identifier: str) -> str | None:
        if self._key is None or not identifier:
            return None
        msg = f"{namespace}\x00{identifier}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()
