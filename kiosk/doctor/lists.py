"""``kiosk doctor``'s check of the county's signed lists: the revocation list and trust list
the kiosk holds in its ledger file, re-verified as a start of ``kiosk run`` would, and whether
county passes are being decided without a fresh revocation list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from kiosk.config import Config, ConfigError
from kiosk.doctor.findings import OK, WARN, Finding
from kiosk.storage import StorageError

_OUTCOME = {
    "refer": "SEE STAFF / 请联系工作人员",
    "deny": "DENY / 禁止通行",
    "notice": "a device notice only (they still pass)",
}
_WAIT = "等待县平台下发 / the kiosk takes the county's retained lists when it connects: see broker"


def check_county_lists(cfg: Config, env: Mapping[str, str], now: datetime | None = None) -> Finding:
    """WARN when no revocation list is held, it is stale, a stored list no longer verifies or
    a pinned trust-list signer cannot be read; the ledger file is never created here."""
    from kiosk.codes.trust import load_trust
    from kiosk.codes.verifier import Verifier
    from kiosk.uplink.updates import restore_held

    county = cfg.verify.updates.county_id
    if county is None:
        return Finding(OK, "no county lists followed (verify.updates.county_id unset)")
    policy = cfg.policy
    stale_means = f"county passes get {_OUTCOME.get(policy.stale_list_outcome, '?')}"
    pinned = load_trust(cfg.verify.updates.trust_signers)
    if pinned.problems:
        return Finding(
            WARN,
            f"trust-list signers: {'; '.join(pinned.problems[:3])}",
            "放置签名证书 / put the county's trust-list signer certificate at "
            "verify.updates.trust_signers",
        )
    verifier = Verifier(cfg.verify, kiosk_id=cfg.kiosk.id, environ=env)
    try:
        verifier.load()
    except ConfigError:
        return Finding(WARN, "not checked: verification is not set up (see verification)")
    at = now or datetime.now(UTC)
    try:
        updates = restore_held(cfg, verifier, clock=lambda: at)
    except StorageError as exc:
        return Finding(WARN, f"stored lists not readable: {exc}", "see outbox / 见待发送")
    if updates is None:
        return Finding(WARN, f"county {county}: no list held yet (no ledger); {stale_means}", _WAIT)
    health = updates.health()
    trust = (
        f"trust list issued {health.trust_issued_at} ({health.trust_certs} certificate"
        f"{'' if health.trust_certs == 1 else 's'})"
        if health.trust_issued_at
        else "no trust list (configured certificates only)"
    )
    if health.last_refusal is not None:
        refusal = health.last_refusal
        said = f"county {county}: stored {refusal['list']} list refused: {refusal['text']}"
        said += f" ({refusal['detail']})" if refusal["detail"] else ""
        return Finding(WARN, said + (f"; {stale_means}" if health.revocations_stale else ""), _WAIT)
    if health.revocations_issued_at is None:
        return Finding(WARN, f"county {county}: no revocation list held; {stale_means}", _WAIT)
    held = (
        f"county {county}: revocation list issued {health.revocations_issued_at} "
        f"({health.revocation_entries} entries); {trust}"
    )
    if health.revocations_stale:
        limit = timedelta(hours=policy.max_list_age_h)
        return Finding(WARN, f"{held}: older than {limit}, stale; {stale_means}", _WAIT)
    return Finding(OK, held)
