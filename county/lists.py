"""The county's signed lists for kiosks: the revocation register (a SQLite file in the state
directory: keyed hashes, never a subject or an ID number), signing with the shared builders in
``kiosk.codes.revocation`` / ``kiosk.codes.trustlist``, and publishing retained at QoS 1."""

from __future__ import annotations

import re
import sqlite3
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from county.config import Config, read_secret
from kiosk.codes import revocation, trustlist
from kiosk.codes.county import PASS_ID_PATTERN, SUBJECT_PATTERN
from kiosk.codes.keys import load_issuer
from kiosk.codes.privacy import looks_like_id_number
from kiosk.codes.trust import read_certificates
from kiosk.uplink.client import tls_context
from kiosk.uplink.oneshot import PublishFailed, publish_retained
from kiosk.uplink.wire import CountyTopics

REVOCATIONS, TRUST = "revocations", "trust"
_REASON = re.compile(r"[^\n\r\t]{1,120}")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    """CREATE TABLE IF NOT EXISTS revocations (
           entry BLOB PRIMARY KEY,
           kind TEXT NOT NULL CHECK (kind IN ('subject', 'pass')),
           issued_before INTEGER NOT NULL,
           reason TEXT NOT NULL,
           revoked_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS published (
           list TEXT PRIMARY KEY,
           issued_at INTEGER NOT NULL,
           payload BLOB NOT NULL)""",
)


#: A change to the register inside the signing transaction: (connection, salt).
Change = Callable[[sqlite3.Connection, bytes], None]


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
        raise ValueError("give --subject or --pass-id")
    if subject is not None and (
        not SUBJECT_PATTERN.fullmatch(subject) or looks_like_id_number(subject)
    ):
        raise ValueError("--subject is the pass's subject key (16-128 of [A-Za-z0-9_-]), "
                         "never an ID number")  # fmt: skip
    if pass_id is not None and not PASS_ID_PATTERN.fullmatch(pass_id.lower()):
        raise ValueError("--pass-id is the pass's cti: 8-32 bytes as hex")
    if not _REASON.fullmatch(reason) or any(looks_like_id_number(w) for w in reason.split()):
        raise ValueError("--reason is one line of at most 120 characters, without ID numbers")


class Register:
    """The revocation register and the lists last signed, in ``state_dir/lists.sqlite``."""

    def __init__(self, config: Config) -> None:
        self._cfg = config
        self.path = config.county.state_dir / "lists.sqlite"
        self.topics = CountyTopics(config.broker.topic_prefix, config.county.id)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                conn.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise ListError(f"cannot open {self.path}: {exc}") from exc
        return conn

    def _salt(self, db: sqlite3.Connection) -> bytes:
        row = db.execute("SELECT value FROM meta WHERE name = 'salt'").fetchone()
        if row is not None:
            return bytes(row[0])
        salt = revocation.new_salt()
        db.execute("INSERT INTO meta VALUES ('salt', ?)", (salt,))
        return salt

    def _next_iat(self, db: sqlite3.Connection, name: str, now: datetime) -> datetime:
        """Now, but always after the last list of that kind: kiosks refuse an older list."""
        row = db.execute("SELECT issued_at FROM published WHERE list = ?", (name,)).fetchone()
        iat = int(now.timestamp())
        if row is not None and iat <= row[0]:
            iat = row[0] + 1
        return datetime.fromtimestamp(iat, UTC)

    def revoke(self, subject: str | None, pass_id: str | None, reason: str,
               issued_before: datetime | None = None) -> Signed:  # fmt: skip
        """Add one revocation and sign the whole list, in one transaction."""
        check_revocation(subject, pass_id, reason)
        now = datetime.now(UTC)
        before = int((issued_before or now).timestamp())
        county_id = self._cfg.county.id

        def add(db: sqlite3.Connection, salt: bytes) -> None:
            if subject is not None:
                entry, kind = revocation.subject_entry(salt, county_id, subject), "subject"
            else:
                assert pass_id is not None  # noqa: S101 - checked above
                entry, kind = revocation.pass_entry(salt, county_id, pass_id), "pass"
            db.execute(
                "INSERT INTO revocations VALUES (?, ?, ?, ?, ?) ON CONFLICT (entry) DO UPDATE "
                "SET issued_before = MAX(issued_before, excluded.issued_before), "
                "reason = excluded.reason, revoked_at = excluded.revoked_at",
                (entry, kind, before, reason, now.isoformat()),
            )

        return self.sign_revocations(add)

    def sign_revocations(self, change: Change | None = None) -> Signed:
        """Sign the register as it stands (after ``change(db, salt)``) and keep the result."""
        key_file = self._cfg.lists.issuer_key_file
        if key_file is None:
            raise ListError("lists.issuer_key_file is not set: nothing can sign the list")
        try:
            key = load_issuer(key_file)
        except (OSError, ValueError) as exc:
            raise ListError(f"lists.issuer_key_file: {exc}") from None
        if key.issuer != self._cfg.county.id:
            raise ListError(f'the issuer key is for "{key.issuer}", not "{self._cfg.county.id}"')
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            salt = self._salt(conn)
            if change is not None:
                change(conn, salt)
            entries = {bytes(k): v for k, v in conn.execute(
                "SELECT entry, issued_before FROM revocations")}  # fmt: skip
            iat = self._next_iat(conn, REVOCATIONS, datetime.now(UTC))
            payload = revocation.build(key, salt, entries, iat)
            conn.execute("INSERT OR REPLACE INTO published VALUES (?, ?, ?)",
                         (REVOCATIONS, int(iat.timestamp()), payload))  # fmt: skip
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ListError(f"cannot store the revocation list in {self.path}: {exc}") from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
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
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            iat = self._next_iat(conn, TRUST, datetime.now(UTC))
            try:
                payload = trustlist.build(signer, self._cfg.county.id, certs, iat)
            except ValueError as exc:
                raise ListError(f"trust list: {exc}") from None
            conn.execute("INSERT OR REPLACE INTO published VALUES (?, ?, ?)",
                         (TRUST, int(iat.timestamp()), payload))  # fmt: skip
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ListError(f"cannot store the trust list in {self.path}: {exc}") from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
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
