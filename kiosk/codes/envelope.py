"""The text envelope shared by county passes and EU DCCs: prefix, Base45 (RFC 9285), zlib."""

from __future__ import annotations

import zlib

from kiosk.codes.errors import CodeError
from kiosk.reasons import CODE_BAD_ENCODING, CODE_UNKNOWN_FORMAT

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

#: Largest decompressed payload accepted; real codes are well under 4 KiB (zip-bomb guard).
MAX_PAYLOAD = 64 * 1024


def b45encode(data: bytes) -> str:
    """Base45: two bytes become three characters, a trailing byte two (least significant first)."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, n = divmod(n, 45 * 45)
        d, c = divmod(n, 45)
        out += [ALPHABET[c], ALPHABET[d], ALPHABET[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [ALPHABET[c], ALPHABET[d]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45; characters outside the alphabet or a bad length raise ``ValueError``."""
    try:
        digits = [_INDEX[c] for c in text]
    except KeyError:
        raise ValueError("character outside the Base45 alphabet") from None
    if len(digits) % 3 == 1:
        raise ValueError("Base45 length leaves a single character")
    out = bytearray()
    for i in range(0, len(digits), 3):
        chunk = digits[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("Base45 triple out of range")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("Base45 pair out of range")
            out.append(n)
    return bytes(out)


def inflate(data: bytes) -> bytes:
    """zlib-decompress at most ``MAX_PAYLOAD`` bytes; broken or oversized data raises ValueError."""
    decomp = zlib.decompressobj()
    try:
        out = decomp.decompress(data, MAX_PAYLOAD)
    except zlib.error as exc:
        raise ValueError(f"zlib: {exc}") from None
    if decomp.unconsumed_tail:
        raise ValueError("decompressed payload too large")
    if not decomp.eof:
        raise ValueError("zlib stream truncated")
    if decomp.unused_data:
        raise ValueError("data after the zlib stream")
    return out


def strip_prefix(text: str, prefix: str) -> str:
    """The Base45 part after ``prefix``; CodeError(code.unknown_format) if the prefix is missing."""
    if not text.startswith(prefix):
        raise CodeError(CODE_UNKNOWN_FORMAT, "prefix missing")
    return text[len(prefix) :]


def unwrap(text: str, prefix: str, compressed: bool = True) -> bytes:
    """The COSE bytes inside ``prefix`` + Base45(zlib(COSE)); CodeError on any bad layer.

    A missing prefix is ``code.unknown_format``; bad Base45 or zlib is ``code.bad_encoding``.
    """
    body = strip_prefix(text, prefix)
    try:
        raw = b45decode(body)
    except ValueError as exc:
        raise CodeError(CODE_BAD_ENCODING, f"base45: {exc}") from None
    if not compressed:
        return raw
    try:
        return inflate(raw)
    except ValueError as exc:
        raise CodeError(CODE_BAD_ENCODING, str(exc)) from None


def wrap(cose: bytes, prefix: str) -> str:
    """``prefix`` + Base45(zlib(cose, level 9)): the text that goes into the QR code."""
    return prefix + b45encode(zlib.compress(cose, 9))
