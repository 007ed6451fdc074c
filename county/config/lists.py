"""Config: the county's signed lists for kiosks (``[lists]``): revocations and the trust list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.config.core import ID_PATTERN
from kiosk.confload import setting


@dataclass(frozen=True)
class ListsSection:
    """Keys and files for ``county revoke``, ``county revocations publish``, ``county trust``."""

    issuer_key_file: Path | None = setting(
        None,
        doc="the county's issuer bundle (key + certificate PEM, as `kiosk pass keygen` writes); "
        "signs the revocation list",
    )
    trust_signer_key_file: Path | None = setting(
        None,
        doc="the trust-list signer bundle (key + certificate PEM); kiosks pin its certificate",
    )
    trust_certs: tuple[Path, ...] = setting(
        (), doc="issuer certificates (PEM/DER files or folders) the trust list publishes"
    )
    client_id: str = setting(
        "county-lists", doc="MQTT client id used to publish the lists", pattern=ID_PATTERN
    )
    publish_timeout_s: float = setting(10.0, doc="give up publishing a list after", min=1, max=300)
