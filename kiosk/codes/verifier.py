"""The facade the checkpoint calls: detect a code's format, verify it, never raise for bad input."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.codes import county, dcc, online
from kiosk.codes.county import Revocations
from kiosk.codes.errors import CodeError
from kiosk.codes.online import OnlineSettings, OnlineVerifier
from kiosk.codes.privacy import SubjectHasher
from kiosk.codes.revocation import RevocationList
from kiosk.codes.trust import TrustList, load_trust
from kiosk.codes.trustlist import SignedTrustList
from kiosk.config import ConfigError, ConfigProblem, VerifySection
from kiosk.model import CodeStatus, PassClaims, RevocationCheck, Verification
from kiosk.reasons import CODE_MALFORMED, CODE_UNKNOWN_FORMAT

logger = logging.getLogger(__name__)

#: Longest text accepted: a version-40 QR code holds at most 4296 alphanumeric characters.
MAX_TEXT = 8192
MIN_KEY_BYTES = 16

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoadReport:
    """What ``Verifier.load()`` found: certificate counts, problems, what is switched on."""

    county_certs: int
    dcc_certs: int
    problems: tuple[str, ...]
    subject_hash: bool
    online: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "county_certs": self.county_certs,
            "dcc_certs": self.dcc_certs,
            "problems": list(self.problems),
            "subject_hash": self.subject_hash,
            "online": self.online,
        }


@dataclass(frozen=True)
class _State:
    county: TrustList
    dcc: TrustList
    online: OnlineVerifier
    hasher: SubjectHasher
    revocations: Revocations | None = None


@dataclass(frozen=True)
class _Files:
    """What ``load()`` read: trust from files, the subject-hash key, the online credential."""

    county: TrustList
    dcc: TrustList
    key: bytes | None
    token: str | None


def _revocation_lookup(county_id: str, held: RevocationList | None) -> Revocations:
    """Passes of ``county_id`` are looked up in ``held``; with no list yet, none is revoked
    but the check says so (``list_issued_at`` None), and the policy treats that as stale."""

    def lookup(claims: PassClaims) -> RevocationCheck | None:
        if claims.issuer != county_id:
            return None
        if held is None:
            return RevocationCheck(False, None)
        return held.check(claims.subject_key, claims.pass_id, claims.issued_at)

    return lookup


class Verifier:
    """Verifies any code the camera reads: county pass, EU DCC, online token, or unknown.

    ``load()`` reads trust lists and secrets and may be called again at any time to reload
    them (the new snapshot replaces the old one in a single assignment, so a ``verify()``
    running in another thread sees either). Before the first ``load()`` nothing is trusted.
    ``verify()`` never raises for any text: every failure is a Verification with a reason
    code, and it never takes longer than ``verify.online.timeout_s`` for an online token.
    """

    def __init__(
        self,
        section: VerifySection,
        clock: Clock = utc_now,
        kiosk_id: str = "k-001",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._section = section
        self._clock = clock
        self._kiosk_id = kiosk_id
        self._environ = environ
        self._lock = threading.Lock()  # writers only: load() and the county's updates
        self._files = _Files(TrustList(), TrustList(), None, None)
        self._trust_list: SignedTrustList | None = None
        self._revocation_list: RevocationList | None = None
        self._state = self._build()

    def _build(self) -> _State:
        files = self._files
        hasher = SubjectHasher(files.key)
        sec = self._section.online
        settings = OnlineSettings(
            url=sec.url,
            timeout_s=sec.timeout_s,
            patterns=sec.patterns,
            ca_file=sec.ca_file,
            credential=files.token,
            kiosk_id=self._kiosk_id,
        )
        county_trust = files.county
        if self._trust_list is not None:
            county_trust = self._trust_list.apply(county_trust)
        county_id = self._section.updates.county_id
        lookup = None
        if county_id is not None:
            lookup = _revocation_lookup(county_id, self._revocation_list)
        online_verifier = OnlineVerifier(settings, hasher)
        return _State(county_trust, files.dcc, online_verifier, hasher, lookup)

    def county_trust(self) -> TrustList:
        """The county certificates in force: the files, updated by the signed trust list."""
        return self._state.county

    def apply_trust_list(self, trust_list: SignedTrustList | None) -> None:
        """Put a verified trust list in force (its county's certificates replace the files')."""
        with self._lock:
            self._trust_list = trust_list
            self._state = self._build()

    def apply_revocations(self, revocations: RevocationList | None) -> None:
        """Put a verified revocation list in force for passes of its county."""
        with self._lock:
            self._revocation_list = revocations
            self._state = self._build()

    def load(self) -> LoadReport:
        """(Re)read trust lists, the subject-hash key and the online credential.

        Raises ConfigError if a configured secret cannot be read or the key is too short;
        unreadable trust files are reported in ``problems`` and skipped.
        """
        sec = self._section
        env = os.environ if self._environ is None else self._environ
        key = _read_secret(
            sec.subject_key_file, sec.subject_key_credential, "verify.subject_key", env
        )
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                [
                    ConfigProblem(
                        "verify.subject_key_file",
                        f"key shorter than {MIN_KEY_BYTES} bytes",
                        "secret",
                    )
                ]
            )
        raw_token = _read_secret(
            sec.online.credential_file, sec.online.credential_name, "verify.online.credential", env
        )
        token = raw_token.decode("utf-8", "replace").strip() if raw_token is not None else None
        county_load = load_trust(sec.county_trust)
        dcc_load = load_trust(sec.dcc_trust)
        with self._lock:
            self._files = _Files(county_load.trust, dcc_load.trust, key, token)
            self._state = self._build()
        report = LoadReport(
            county_certs=len(county_load.trust),
            dcc_certs=len(dcc_load.trust),
            problems=county_load.problems + dcc_load.problems,
            subject_hash=key is not None,
            online=bool(sec.online.url),
        )
        logger.info(
            "verifier loaded: %d county and %d DCC certificates, %d problems",
            report.county_certs, report.dcc_certs, len(report.problems),
        )  # fmt: skip
        return report

    def hash_subject(self, namespace: str, identifier: str) -> str | None:
        """The keyed hash of a subject identifier with the loaded key (None without a key)."""
        return self._state.hasher(namespace, identifier)

    def verify(self, text: str, now: datetime | None = None) -> Verification:
        """Verify one code's text at ``now`` (default: the injected clock)."""
        when = now if now is not None else self._clock()
        state = self._state
        text = text.rstrip("\r\n")
        kind = _kind(text, state)
        if len(text) > MAX_TEXT:
            return _failed(kind, CODE_MALFORMED)
        skew = float(self._section.clock_skew_s)
        try:
            if kind == county.KIND:
                return county.verify(
                    text, state.county, when, state.hasher, skew, state.revocations
                )
            if kind == dcc.KIND:
                return dcc.verify(text, state.dcc, when, state.hasher, skew)
            if kind == online.KIND:
                return state.online.verify(text, when)
        except CodeError as exc:
            logger.info("%s rejected: %s", kind, exc.reason)
            return _failed(kind, exc.reason)
        except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError) as exc:
            # A parser bug must not crash the door; fail closed and leave a trace without text.
            logger.warning("%s: unexpected %s while verifying", kind, type(exc).__name__)
            return _failed(kind, CODE_MALFORMED)
        return _failed("unknown", CODE_UNKNOWN_FORMAT)


def _kind(text: str, state: _State) -> str:
    if county.looks_like(text):
        return county.KIND
    if dcc.looks_like(text):
        return dcc.KIND
    if state.online.matches(text):
        return online.KIND
    return "unknown"


def _failed(kind: str, reason: str) -> Verification:
    return Verification(kind=kind, status=CodeStatus.FAILED, valid=False, reasons=(reason,))


def _read_secret(
    file: Path | None, credential: str | None, key: str, environ: Mapping[str, str]
) -> bytes | None:
    """A secret's bytes (one trailing newline dropped) from a file or a systemd credential."""
    if credential is not None:
        directory = environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                [ConfigProblem(f"{key}_credential", f'credential "{credential}" requested but '
                               "$CREDENTIALS_DIRECTORY is not set", "environment")]
            )  # fmt: skip
        file = Path(directory) / credential
        key = f"{key}_credential"
    else:
        key = f"{key}_file"
    if file is None:
        return None
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(key, f"cannot read secret: {exc.strerror}", str(file))]
        ) from exc
    return data[:-1] if data.endswith(b"\n") else data
