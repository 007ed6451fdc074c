"""The county's updates on the kiosk: verify each signed list that arrives, keep the newest in
the ledger file, put it in force in the verifier; refuse (and say why) anything else."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from kiosk.codes import revocation, trustlist
from kiosk.codes.revocation import RevocationList
from kiosk.codes.signedlist import (
    LIST_UNKNOWN_KEY,
    REFUSALS,
    Envelope,
    ListRefused,
    supersedes,
)
from kiosk.codes.trust import TrustList, load_trust
from kiosk.codes.trustlist import SignedTrustList
from kiosk.config import Config
from kiosk.model import utc_iso
from kiosk.storage import StorageError, connect, storage_error, write
from kiosk.uplink.inbound import Inbound, Received
from kiosk.uplink.wire import CountyTopics

logger = logging.getLogger(__name__)

REVOCATIONS, TRUST = "revocations", "trust"
POLL_S = 0.5


class ListSink(Protocol):
    """Where verified lists go into force (``kiosk.codes.verifier.Verifier``)."""

    def county_trust(self) -> TrustList: ...
    def apply_trust_list(self, trust_list: SignedTrustList | None) -> None: ...
    def apply_revocations(self, revocations: RevocationList | None) -> None: ...


@dataclass(frozen=True)
class UpdatesHealth:
    """For the staff page, ``/api/status`` and the supervisor; times are ISO UTC."""

    county: str
    last_progress: float = 0.0
    revocations_issued_at: str | None = None
    revocation_entries: int | None = None
    revocations_stale: bool = True
    trust_issued_at: str | None = None
    trust_certs: int | None = None
    refused: int = 0
    last_refusal: dict[str, str] | None = None
    subscription_refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "county": self.county,
            "revocations_issued_at": self.revocations_issued_at,
            "revocation_entries": self.revocation_entries,
            "revocations_stale": self.revocations_stale,
            "trust_issued_at": self.trust_issued_at,
            "trust_certs": self.trust_certs,
            "refused": self.refused,
            "last_refusal": self.last_refusal,
            "subscription_refused": self.subscription_refused,
        }


class CountyUpdates:
    """Keeps the county's revocation list and trust list in force.

    ``start()`` restores the lists stored in the ledger file (re-verified), then a thread takes
    messages from ``inbound``. A list is accepted only if it verifies and is newer than the one
    in force; anything else is refused, logged and counted, and the list in force stays.
    """

    def __init__(
        self,
        config: Config,
        sink: ListSink,
        inbound: Inbound,
        stop: threading.Event,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        county = config.verify.updates.county_id
        if county is None:
            raise ValueError("verify.updates.county_id is not set")
        self._cfg = config
        self._county = county
        self._topics = CountyTopics(config.uplink.topic_prefix, county)
        self._sink = sink
        self._inbound = inbound
        self._stop = stop
        self._clock = clock
        self._path: Path = config.ledger_path
        self._held: dict[str, Envelope] = {}
        self._unknown_key: bytes | None = None  # the last revocation list with an unknown key
        self._pinned = TrustList()
        self._lock = threading.Lock()
        self._health = UpdatesHealth(county=county, last_progress=time.monotonic())
        self._thread: threading.Thread | None = None

    @staticmethod
    def topics(config: Config) -> tuple[str, ...]:
        county = config.verify.updates.county_id
        if county is None:
            return ()
        topics = CountyTopics(config.uplink.topic_prefix, county)
        return (topics.trust, topics.revocations)

    # -- worker ------------------------------------------------------------------------------

    def start(self) -> CountyUpdates:
        """Restore the stored lists (``restore``), then start the thread."""
        self.restore()
        self._thread = threading.Thread(target=self._run, name="updates")
        self._thread.start()
        return self

    def restore(self) -> None:
        """Read the pinned trust-list signers and put the lists stored in the ledger file in
        force again, re-verified (the trust list first); StorageError if it cannot be read."""
        pinned = load_trust(self._cfg.verify.updates.trust_signers)
        self._pinned = pinned.trust
        conn = connect(self._path)
        try:
            rows = conn.execute(
                "SELECT kind, payload FROM county_lists WHERE county = ? "
                "ORDER BY kind = 'revocations'",  # trust first: it names the keys
                (self._county,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise storage_error(exc, self._path, "reading the county's lists") from exc
        finally:
            conn.close()
        for kind, payload in rows:
            self._accept(kind, bytes(payload), store=False)

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> UpdatesHealth:
        with self._lock:
            health = self._health
        return replace(
            health, revocations_stale=self._stale(), subscription_refused=self._inbound.refused
        )

    def _stale(self) -> bool:
        held = self._held.get(REVOCATIONS)
        limit = self._cfg.policy.max_list_age_h
        if held is None:
            return True
        return bool(limit) and self._clock() - held.issued_at > timedelta(hours=limit)

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._health = replace(self._health, **changes)

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._inbound.take(POLL_S)
            if message is not None:
                self.handle(message)
            self._update(last_progress=time.monotonic())

    # -- one message ---------------------------------------------------------------------------

    def handle(self, message: Received) -> str:
        """Verify and apply one message: ``accepted``, ``unchanged``, ``ignored`` or a refusal."""
        kind = {self._topics.revocations: REVOCATIONS, self._topics.trust: TRUST}.get(message.topic)
        if kind is None or not message.payload:
            return "ignored"  # an empty retained message clears the topic; the list stays
        return self._accept(kind, message.payload, store=True)

    def _accept(self, kind: str, payload: bytes, *, store: bool) -> str:
        now = self._clock()
        skew = float(self._cfg.verify.clock_skew_s)
        try:
            parsed: RevocationList | SignedTrustList
            if kind == TRUST:
                parsed = trustlist.parse(payload, self._county, self._pinned, now, skew)
            else:
                trust = self._sink.county_trust()
                parsed = revocation.parse(payload, self._county, trust, now, skew)
            if not supersedes(self._held.get(kind), parsed.envelope):
                return "unchanged"
            if store:
                self._store(kind, parsed.envelope)
        except ListRefused as exc:
            self._refuse(kind, exc)
            if kind == REVOCATIONS and exc.reason == LIST_UNKNOWN_KEY:
                self._unknown_key = payload  # a trust list with its key may be on the way
            return exc.reason
        except StorageError as exc:
            logger.error("county %s list not stored, not in force: %s", kind, exc)
            return "storage.error"
        self._held[kind] = parsed.envelope
        if isinstance(parsed, SignedTrustList):
            self._sink.apply_trust_list(parsed)
            self._update(trust_issued_at=utc_iso(parsed.issued_at), trust_certs=len(parsed.certs))
        else:
            self._sink.apply_revocations(parsed)
            self._update(
                revocations_issued_at=utc_iso(parsed.issued_at),
                revocation_entries=len(parsed.entries),
            )
        logger.info("county %s %s list issued %s in force", self._county, kind,
                    utc_iso(parsed.issued_at))  # fmt: skip
        waiting = self._unknown_key
        if kind == TRUST and waiting is not None:  # a revocation list that came before its key
            self._unknown_key = None
            self._accept(REVOCATIONS, waiting, store=store)
        return "accepted"

    def _refuse(self, kind: str, exc: ListRefused) -> None:
        logger.warning("county %s %s list refused: %s (%s); the list in force stays",
                       self._county, kind, exc.reason, exc.detail)  # fmt: skip
        refusal = {
            "list": kind,
            "reason": exc.reason,
            "text": REFUSALS.get(exc.reason, exc.reason),
            "detail": exc.detail,
            "at": utc_iso(self._clock()),
        }
        self._update(refused=self._health.refused + 1, last_refusal=refusal)

    def _store(self, kind: str, env: Envelope) -> None:
        store_list(self._path, kind, self._county, env.iat, env.raw, self._clock())


def restore_held(
    config: Config, sink: ListSink, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> CountyUpdates | None:
    """The county's lists held in the ledger file, re-verified and put in force in ``sink``,
    with no thread and no broker (``kiosk verify``, ``kiosk doctor``); None when there is no
    ledger yet: it is never created here. StorageError if it cannot be read."""
    if not config.ledger_path.exists():
        return None
    updates = CountyUpdates(config, sink, Inbound(()), threading.Event(), clock)
    updates.restore()
    return updates


def store_list(
    path: Path, kind: str, county: str, iat: int, payload: bytes, received: datetime
) -> None:
    """Keep a verified list in the ledger file (``county_lists``), replacing that kind's last
    one; StorageError if it cannot. The demo seeds a kiosk's list this way."""
    conn = connect(path)
    try:
        write(conn, path, f"storing the county's {kind} list", lambda db: db.execute(
            "INSERT OR REPLACE INTO county_lists (kind, county, issued_at, received, payload) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, county, iat, utc_iso(received), payload),
        ))  # fmt: skip
    finally:
        conn.close()
