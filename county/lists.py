"""The county's signed lists for kiosks: revocations kept in the county database (keyed hashes,
never a subject or an ID number), signed with the shared builders in ``kiosk.codes.revocation``
/ ``kiosk.codes.trustlist``, and published retained at QoS 1."""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from county.config import Config, read_secret
from county.store.register import Tx, transaction
from kiosk.codes import revocation, trustlist
from kiosk.codes.county import PASS_ID_PATTERN, SUBJECT_PATTERN
from kiosk.codes.keys import load_issuer
from kiosk.codes.privacy import looks_like_id_number
from kiosk.codes.trust import read_certificates
from kiosk.model import utc_iso
from kiosk.uplink.client import tls_context
from kiosk.uplink.oneshot import PublishFailed, publish_retained
from kiosk.uplink.wire import CountyTopics

REVOCATIONS, TRUST = "revocations", "trust"
_REASON = re.compile(r"[^\n\r\t]{1,120}")
#: A change to the register inside the signing transaction: (transaction, salt).
Change = Callable[[Tx, bytes], None]


class ListError(Exception):
    """A list could not be built, stored or published; the message says which and why."""


@dataclass(frozen=True)
class Signed:
    """A list signed and stored, ready to publish."""

    list: str
    topic: str
    issued_at: datetime
    entries: int
    payload: bytes


def check_revocation(subject: str | None, pass_id: str | None, reason: str) -> None:
    """ValueError unless exactly one of a subject key / pass id is given, in its format, and the
    reason is one short line that is not an ID number."""
    if (subject is None) == (pass_id is None):
        raise ValueError("give a subject (--subject) or one pass id (--pass-id), not both")
    if subject is not None and (
        not SUBJECT_PATTERN.fullmatch(subject) or looks_like_id_number(subject)
    ):
        raise ValueError("--subject is the pass's subject key (16-128 of [A-Za-z0-9_-]), "
                         "never an ID number")  # fmt: skip
    if pass_id is not None and not PASS_ID_PATTERN.fullmatch(pass_id.lower()):
        raise ValueError("--pass-id is the pass's cti: 8-32 bytes as hex")
    if not _REASON.fullmatch(reason) or any(looks_like_id_number(w) for w in reason.split()):
        raise ValueError("--reason is one line of at most 120 characters, without ID numbers")


def _next_iat(last: int | None, now: datetime) -> datetime:
    """Now, but always after the last list of that kind: kiosks refuse an older list."""
    iat = int(now.timestamp())
    if last is not None and iat <= last:
        iat = last + 1
    return datetime.fromtimestamp(iat, UTC)


class Register:
    """The revocation register and the lists last signed, in the county database
    (``county.store.register``); each call is one locked transaction."""

    def __init__(self, config: Config) -> None:
        self._cfg = config
        self.topics = CountyTopics(config.broker.topic_prefix, config.county.id)

    def revoke(self, subject: str | None, pass_id: str | None, reason: str,
               issued_before: datetime | None = None, by: str = "cli") -> Signed:  # fmt: skip
        """Add one revocation (``by`` whom) and sign the whole list, in one transaction."""
        check_revocation(subject, pass_id, reason)
        now = datetime.now(UTC)
        before = int((issued_before or now).timestamp())
        county_id = self._cfg.county.id

        def add(tx: Tx, salt: bytes) -> None:
            if subject is not None:
                entry, kind = revocation.subject_entry(salt, county_id, subject), "subject"
            else:
                assert pass_id is not None  # noqa: S101 - checked above
                entry, kind = revocation.pass_entry(salt, county_id, pass_id), "pass"
            tx.add(entry, kind, before, reason, utc_iso(now), by)

        return self.sign_revocations(add)

    def sign_revocations(self, change: Change | None = None) -> Signed:
        """Sign the register as it stands (after ``change(tx, salt)``) and keep the result."""
        key_file = self._cfg.lists.issuer_key_file
        if key_file is None:
            raise ListError("lists.issuer_key_file is not set: nothing can sign the list")
        try:
            key = load_issuer(key_file)
        except (OSError, ValueError) as exc:
            raise ListError(f"lists.issuer_key_file: {exc}") from None
        if key.issuer != self._cfg.county.id:
            raise ListError(f'the issuer key is for "{key.issuer}", not "{self._cfg.county.id}"')
        with transaction(self._cfg) as tx:
            salt = tx.salt(revocation.new_salt())
            if change is not None:
                change(tx, salt)
            entries = tx.entries()
            iat = _next_iat(tx.last_issued(REVOCATIONS), datetime.now(UTC))
            payload = revocation.build(key, salt, entries, iat)
            tx.keep(REVOCATIONS, int(iat.timestamp()), payload)
        return Signed(REVOCATIONS, self.topics.revocations, iat, len(entries), payload)

    def sign_trust(self) -> Signed:
        """Sign the trust list of ``lists.trust_certs`` with the trust-list signer."""
        lists = self._cfg.lists
        if lists.trust_signer_key_file is None:
            raise ListError("lists.trust_signer_key_file is not set")
        try:
            signer = trustlist.load_signer(lists.trust_signer_key_file)
            certs: list[x509.Certificate] = read_certificates(lists.trust_certs)
        except (OSError, ValueError) as exc:
            raise ListError(f"lists: {exc}") from None
        with transaction(self._cfg) as tx:
            iat = _next_iat(tx.last_issued(TRUST), datetime.now(UTC))
            try:
                payload = trustlist.build(signer, self._cfg.county.id, certs, iat)
            except ValueError as exc:
                raise ListError(f"trust list: {exc}") from None
            tx.keep(TRUST, int(iat.timestamp()), payload)
        return Signed(TRUST, self.topics.trust, iat, len(certs), payload)


def publish(config: Config, signed: Signed) -> None:
    """Publish ``signed`` retained at QoS 1 on its topic; ListError if the broker did not ack."""
    broker = config.broker
    password = read_secret("broker.password", broker.password_file, broker.password_credential)
    try:
        tls = tls_context(broker.tls) if broker.tls.enabled else None
        publish_retained(
            broker.host, broker.port, signed.topic, signed.payload,
            client_id=config.lists.client_id, username=broker.username, password=password,
            tls=tls, timeout_s=config.lists.publish_timeout_s,
        )  # fmt: skip
    except (PublishFailed, OSError, ssl.SSLError) as exc:
        raise ListError(f"{signed.list} list signed and kept, not published: {exc}") from exc
