"""Test helpers: configs as dicts and TOML files, running the CLI, a throwaway PKI."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.config import Config, parse

REPO = Path(__file__).resolve().parent.parent


def config_dict(state_dir: Path, port: int, **sections: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kiosk": {"id": "k-001", "site": "fanzhuang", "state_dir": str(state_dir)},
        "uplink": {"host": "127.0.0.1", "port": port, "topic_prefix": "county/demo"},
    }
    for name, table in sections.items():
        values.setdefault(name, {}).update(table)
    return values


def make_config(state_dir: Path, port: int, **sections: dict[str, Any]) -> Config:
    return parse(config_dict(state_dir, port, **sections), source="test")


def to_toml(values: dict[str, Any]) -> str:
    """Just enough TOML for test configs: nested tables of scalars and string lists."""
    lines: list[str] = []

    def table(prefix: str, node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{key} = {json.dumps(value)}")
        for key, value in node.items():
            if isinstance(value, dict):
                table(f"{prefix}.{key}" if prefix else key, value)

    table("", values)
    return "\n".join(lines) + "\n"


def write_config(path: Path, values: dict[str, Any]) -> Path:
    path.write_text(to_toml(values), encoding="utf-8")
    return path


def kiosk_cmd(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kiosk ARGS`` and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=check,
    )


def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05
) -> bool:
    """Polls ``predicate`` every ``interval`` until it holds or ``timeout`` passes; its last
    answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def committed_count(ledger: Path) -> int:
    """Entries in a ledger another process is writing (0 until its tables exist)."""
    try:
        with closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)) as db:
            return int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def kiosk_popen(
    *args: str, env: dict[str, str] | None = None, stdout: IO[str] | int = subprocess.PIPE
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def bind_datagram(path: Path, timeout: float = 5.0) -> socket.socket:
    """A unix datagram socket bound at ``path``: a stand-in for systemd's or journald's."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(timeout)
    return sock


class Pki:
    """A CA made for one test, issuing server and client certificates into ``directory``."""

    def __init__(self, directory: Path, name: str = "Test CA") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = self.dir / f"{name.replace(' ', '_')}.crt"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        common_name: str,
        *,
        server: bool,
        ips: tuple[str, ...] = ("127.0.0.1",),
        names: tuple[str, ...] = (),
    ) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        if server:
            sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            sans += [x509.DNSName(n) for n in names]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            usage = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        else:
            usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_file = self.dir / f"{common_name}.crt"
        key_file = self.dir / f"{common_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_file.chmod(0o600)
        return cert_file, key_file
