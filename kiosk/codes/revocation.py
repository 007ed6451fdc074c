"""A county's signed revocation list: build and sign it (the county), verify and look passes up in
it (the kiosk). Entries are keyed hashes of a subject key or a pass id, each with an
``issued_before`` time; never an ID number (docs/county-pass.md, "Revocation list")."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from kiosk.codes.keys import IssuerKey
from kiosk.codes.signedlist import (
    LIST_MALFORMED,
    Candidates,
    Envelope,
    ListRefused,
    open_list,
    seal,
)
from kiosk.codes.trust import TrustList
from kiosk.model import RevocationCheck

#: Private-use CWT claim (RFC 8392 §4) holding the revocation list's body.
CLAIM_REVOCATIONS = -65538
ENTRY_BYTES = 16
SALT_BYTES = 16
MAX_ENTRIES = 500_000


def entry_key(salt: bytes, namespace: str, identifier: str) -> bytes:
    """The first 16 bytes of HMAC-SHA256(salt, ``namespace NUL identifier``).

    The same construction as the kiosk's subject hashes (``privacy.SubjectHasher``), keyed by
    the list's salt instead of a kiosk's key, so every kiosk can compute it.
    """
    msg = f"{namespace}\x00{identifier}".encode()
    return hmac.new(salt, msg, hashlib.sha256).digest()[:ENTRY_BYTES]


def subject_entry(salt: bytes, issuer: str, subject_key: str) -> bytes:
    """The entry that revokes passes of a subject (the pass's ``sub``) of ``issuer``."""
    return entry_key(salt, f"county:{issuer}", subject_key)


def pass_entry(salt: bytes, issuer: str, pass_id: str) -> bytes:
    """The entry that revokes one pass by its id (the pass's ``cti`` as lowercase hex)."""
    return entry_key(salt, f"pass:{issuer}", pass_id.lower())


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def build(key: IssuerKey, salt: bytes, entries: Mapping[bytes, int], issued_at: datetime) -> bytes:
    """The whole list signed with the county's issuer key: ``entries`` maps an entry key to its
    ``issued_before`` (NumericDate): passes issued before that time are revoked.

    ValueError for a wrong salt or entry size or too many entries.
    """
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the salt must be {SALT_BYTES} bytes")
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries")
    if any(len(k) != ENTRY_BYTES or not 0 <= v for k, v in entries.items()):
        raise ValueError(f"entries map {ENTRY_BYTES}-byte keys to NumericDates")
    body = {"k": salt, "e": dict(entries)}
    return seal(CLAIM_REVOCATIONS, body, key.issuer, issued_at, key.private_key, key.kid)


@dataclass(frozen=True)
class RevocationList:
    """A verified revocation list of one county; immutable, so readers need no lock."""

    envelope: Envelope
    salt: bytes
    entries: Mapping[bytes, int]

    @property
    def issuer(self) -> str:
        return self.envelope.issuer

    @property
    def issued_at(self) -> datetime:
        return self.envelope.issued_at

    def revokes(self, subject_key: str, pass_id: str | None, issued_at: datetime) -> bool:
        """True if an entry for the subject or the pass has ``issued_before`` > ``issued_at``."""
        iat = issued_at.timestamp()
        before = self.entries.get(subject_entry(self.salt, self.issuer, subject_key))
        if before is not None and iat < before:
            return True
        if pass_id is not None:
            before = self.entries.get(pass_entry(self.salt, self.issuer, pass_id))
            if before is not None and iat < before:
                return True
        return False

    def check(self, subject_key: str, pass_id: str | None, issued_at: datetime) -> RevocationCheck:
        return RevocationCheck(self.revokes(subject_key, pass_id, issued_at), self.issued_at)


def _trusted_signers(trust: TrustList, county_id: str) -> Candidates:
    return lambda kid: [c for c in trust.lookup(kid) if c.subject_cn == county_id]


def parse(
    data: bytes, county_id: str, trust: TrustList, now: datetime, skew_s: float = 300.0
) -> RevocationList:
    """Verify a revocation list against the county trust in force; ``ListRefused`` if not.

    Only a certificate whose CN is ``county_id`` may sign it, as for the county's passes.
    """
    env = open_list(data, CLAIM_REVOCATIONS, county_id, _trusted_signers(trust, county_id),
                    now, skew_s)  # fmt: skip
    salt, entries = env.body.get("k"), env.body.get("e")
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise ListRefused(LIST_MALFORMED, f"k must be {SALT_BYTES} bytes")
    if not isinstance(entries, dict) or len(entries) > MAX_ENTRIES:
        raise ListRefused(LIST_MALFORMED, f"e must be a map of at most {MAX_ENTRIES} entries")
    for k, v in entries.items():
        if type(k) is not bytes or len(k) != ENTRY_BYTES or type(v) is not int or v < 0:
            raise ListRefused(LIST_MALFORMED, "an entry is not a 16-byte key with a NumericDate")
    return RevocationList(env, salt, entries)
