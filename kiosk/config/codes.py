"""Config: code verification and the decision policy (``[verify]``, ``[policy]``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kiosk.config.core import CREDENTIAL_NAME
from kiosk.confload import setting


def _regexes(patterns: tuple[str, ...]) -> str | None:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f'"{pattern}" is not a regular expression: {exc}'
    return None


def _never_pass(value: str) -> str | None:
    if value in ("refer", "deny"):
        return None
    return (
        f'expected "refer" or "deny", got "{value}": '
        "a code or temperature that was not checked never passes"
    )


@dataclass(frozen=True)
class OnlineVerifySection:
    """The county's online verification service for health-code tokens (TLS always verified)."""

    url: str | None = setting(
        None, doc="https URL the kiosk POSTs tokens to; unset = tokens cannot be verified",
        pattern=r"https://[^\s/?#]+(/\S*)?",
    )  # fmt: skip
    timeout_s: float = setting(
        3.0, doc="hard limit on one verification, retries included", min=0.2, max=30
    )
    patterns: tuple[str, ...] = setting(
        (), doc="regular expressions (matched at the start) that mark a code as an online token",
        check=_regexes,
    )  # fmt: skip
    ca_file: Path | None = setting(None, doc="CA bundle (PEM) for the service; system CAs if unset")
    credential_file: Path | None = setting(None, doc="file holding the kiosk's bearer token")
    credential_name: str | None = setting(
        None,
        doc="systemd credential name holding the bearer token ($CREDENTIALS_DIRECTORY)",
        pattern=CREDENTIAL_NAME,
    )

    def __post_init__(self) -> None:
        if self.credential_file is not None and self.credential_name is not None:
            raise ValueError(
                "give verify.online.credential_file or verify.online.credential_name, not both"
            )


@dataclass(frozen=True)
class UpdatesSection:
    """Signed updates from the county over the broker: revocation list and trust list."""

    county_id: str | None = setting(
        None,
        doc="county (issuer id) whose revocation and trust lists this kiosk follows; unset = none",
        pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}",
    )
    trust_signers: tuple[Path, ...] = setting(
        (), doc="pinned certificates (PEM/DER) whose keys may sign the county's trust list"
    )


@dataclass(frozen=True)
class VerifySection:
    """How codes are verified: trust lists, the subject-hash key and the online service."""

    county_trust: tuple[Path, ...] = setting(
        (), doc="files/folders of county issuer certificates (PEM or DER, CN = issuer id)"
    )
    dcc_trust: tuple[Path, ...] = setting(
        (), doc="files/folders of EU DCC signer certificates (PEM or DER)"
    )
    subject_key_file: Path | None = setting(
        None, doc="file with the kiosk's secret key (>= 16 bytes) for keyed subject hashes"
    )
    subject_key_credential: str | None = setting(
        None, doc="systemd credential name holding that key", pattern=CREDENTIAL_NAME
    )
    clock_skew_s: int = setting(
        300, doc="how far in the future an issue time may lie (clock skew)", min=0, max=3600
    )
    online: OnlineVerifySection = setting(
        factory=OnlineVerifySection, doc="online token verification"
    )
    updates: UpdatesSection = setting(
        factory=UpdatesSection, doc="revocation and trust lists from the county"
    )

    def __post_init__(self) -> None:
        if self.subject_key_file is not None and self.subject_key_credential is not None:
            raise ValueError(
                "give verify.subject_key_file or verify.subject_key_credential, not both"
            )


def _statuses(values: tuple[str, ...]) -> str | None:
    if not values:
        return "list at least one accepted status"
    wrong = [v for v in values if v not in ("green", "yellow")]
    if wrong:
        return f'only "green" and "yellow" can be accepted, got "{wrong[0]}"'
    return None


@dataclass(frozen=True)
class PolicySection:
    """The rules that turn a verification and a temperature into PASS, DENY or SEE STAFF."""

    accepted_statuses: tuple[str, ...] = setting(
        ("green",), doc="code colours that may pass (green, yellow)", check=_statuses
    )
    fever_threshold_c: float = setting(
        37.3, doc="temperatures at or above this deny entry (°C)", min=35.0, max=40.0
    )
    max_test_age_h: int = setting(
        0,
        doc="a negative nucleic-acid test at most this old is required (0 = none, 24, 48, 72)",
        check=lambda v: None if v in (0, 24, 48, 72) else f"expected 0, 24, 48 or 72, got {v}",
    )
    min_vaccine_doses: int = setting(0, doc="vaccination doses required (0 = none)", min=0, max=10)
    unverified_outcome: str = setting(
        "refer",
        doc="outcome for a code that could not be verified (refer, deny)",
        check=_never_pass,
    )
    not_ready_outcome: str = setting(
        "refer", doc="outcome when no decision-grade temperature is there (refer, deny)",
        check=_never_pass,
    )  # fmt: skip
    starred_itinerary: str = setting(
        "refer",
        doc="outcome for a starred itinerary card (行程卡带星号): refer, deny or ignore",
        check=lambda v: None if v in ("refer", "deny", "ignore")
        else f'expected "refer", "deny" or "ignore", got "{v}"',
    )  # fmt: skip
    max_itinerary_age_d: int = setting(
        0,
        doc="an itinerary card updated at most this many days ago is required (0 = none); "
        "missing or older gets unverified_outcome",
        min=0,
        max=14,
    )
    max_status_age_h: int = setting(
        72, doc="a pass whose status was updated longer ago is referred to staff (0 = off)",
        min=0, max=8760,
    )  # fmt: skip
    revoked_outcome: str = setting(
        "deny", doc="outcome for a pass on the county's revocation list (deny, refer)",
        check=_never_pass,
    )  # fmt: skip
    max_list_age_h: int = setting(
        48, doc="a revocation list older than this is stale: device notice (0 = off)",
        min=0, max=8760,
    )  # fmt: skip
    stale_list_outcome: str = setting(
        "refer",
        doc="county passes while the revocation list is stale or missing: refer, deny, "
        "or notice (the device notice only)",
        check=lambda v: (
            None
            if v in ("refer", "deny", "notice")
            else f'expected "refer", "deny" or "notice", got "{v}"'
        ),
    )
