"""A simulated county verification service: real HTTPS on 127.0.0.1 with fault knobs."""

from __future__ import annotations

import hmac
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MODES = ("normal", "slow", "drip", "error", "malformed", "unauthorized")


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_tls(directory: Path, ca_name: str = "county test CA") -> TlsFiles:
    """Write a new CA and a server certificate signed by it into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name(ca_name)).issuer_name(_name(ca_name))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class CountyService:
    """The county's token service as the kiosk sees it (protocol in docs/verification.md).

    ``tokens`` maps a token to the JSON answer for it; other tokens get ``not_found``.
    ``mode`` injects faults: ``slow`` waits ``delay_s`` before answering, ``drip`` sends its
    answer one byte every 0.1 s (no single read ever times out), ``error`` answers 500,
    ``malformed`` sends broken JSON, ``unauthorized`` answers 401. A wrong bearer credential
    is always 401. ``requests`` counts the POSTs received (for retry tests).
    """

    def __init__(
        self,
        tls: TlsFiles,
        tokens: dict[str, dict[str, Any]] | None = None,
        credential: str | None = None,
        mode: str = "normal",
        delay_s: float = 10.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.tls = tls
        self.tokens = dict(tokens or {})
        self.credential = credential
        self.mode = mode
        self.delay_s = delay_s
        self.requests = 0
        self.last_request: dict[str, Any] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("service not started")
        return f"https://127.0.0.1:{self._server.server_address[1]}/v1/verify"

    def start(self) -> CountyService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read outcomes, not access logs

            def do_POST(self) -> None:
                service.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 65536))
                expected = f"Bearer {service.credential}" if service.credential else None
                given = self.headers.get("Authorization") or ""
                if service.mode == "unauthorized" or (
                    expected and not hmac.compare_digest(given, expected)
                ):
                    return self._send(401, b'{"error": "unauthorized"}')
                if service.mode == "slow":
                    service._stop.wait(service.delay_s)
                if service.mode == "drip":
                    return self._drip(b'{"status": "green"}' + b" " * 200)
                if service.mode == "error":
                    return self._send(500, b'{"error": "internal"}')
                if service.mode == "malformed":
                    return self._send(200, b'{"status": "green", "masked_')
                try:
                    request = json.loads(body)
                    token = request["token"]
                except (ValueError, KeyError, TypeError):
                    return self._send(400, b'{"error": "bad request"}')
                service.last_request = request
                answer = service.tokens.get(token, {"status": "not_found"})
                self._send(200, json.dumps(answer, ensure_ascii=False).encode())

            def _drip(self, payload: bytes) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    for i in range(len(payload)):
                        if service._stop.wait(0.1):
                            return
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                except OSError:
                    pass

            def _send(self, code: int, payload: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the kiosk gave up (deadline) and closed the connection

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="county-sim"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> CountyService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
