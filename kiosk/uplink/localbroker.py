"""A throwaway mosquitto on a loopback port, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def mosquitto_binary() -> str | None:
    """Path of the mosquitto binary (also found in sbin when that is not on PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in _SBIN_DIRS:
        candidate = Path(directory) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class BrokerTls:
    """Server-side TLS files; ``require_certificate`` turns on mutual TLS."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False
    identity_as_username: bool = False


class LocalBroker:
    """Runs ``mosquitto -c`` with a generated config on 127.0.0.1.

    Keeps the same port across ``kill()``/``start()`` so clients reconnect to it. Persistence
    is on with a one-second autosave (mosquitto's default of 30 minutes loses acknowledged
    messages on SIGKILL); ``save_every_change`` saves after every change instead, for tests
    that SIGKILL the broker, and a long ``autosave_s`` keeps what arrives unsaved until a clean
    stop, for tests of what a SIGKILL loses. ``receive_maximum`` (0 = unlimited) is mosquitto's
    ``max_inflight_messages``, advertised to clients as Receive Maximum; None leaves
    mosquitto's default (20), as a plain installation has. Use as a context manager or call
    ``stop()``.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        acl: str | None = None,
        users: dict[str, str] | None = None,
        tls: BrokerTls | None = None,
        max_queued_messages: int = 100_000,
        receive_maximum: int | None = 0,
        save_every_change: bool = False,
        autosave_s: int = 1,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self._acl = acl
        self._users = users or {}
        self._tls = tls
        self._max_queued = max_queued_messages
        self._receive_maximum = receive_maximum
        self._save_every_change = save_every_change
        self._autosave_s = autosave_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {data}/",
            f"autosave_interval {self._autosave_s}",
            f"autosave_on_changes {'true' if self._save_every_change else 'false'}",
            f"max_queued_messages {self._max_queued}",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
        ]
        if self._receive_maximum is not None:
            lines.append(f"max_inflight_messages {self._receive_maximum}")
        if os.geteuid() == 0:
            lines.append("user root")
        if self._users:
            pwfile = self.workdir / "passwd"
            pwfile.write_text("")
            pwfile.chmod(0o600)
            tool = shutil.which("mosquitto_passwd")
            if tool is None:
                raise FileNotFoundError("mosquitto_passwd is not installed (apt install mosquitto)")
            for user, password in self._users.items():
                subprocess.run([tool, "-b", str(pwfile), user, password], check=True)  # noqa: S603
            lines += [f"password_file {pwfile}", "allow_anonymous false"]
        elif self._tls is not None and self._tls.identity_as_username:
            lines.append("allow_anonymous false")
        else:
            lines.append("allow_anonymous true")
        if self._acl is not None:
            acl_file = self.workdir / "acl"
            acl_file.write_text(self._acl)
            lines.append(f"acl_file {acl_file}")
        if self._tls is not None:
            lines += [
                f"cafile {self._tls.ca_file}",
                f"certfile {self._tls.cert_file}",
                f"keyfile {self._tls.key_file}",
                f"require_certificate {'true' if self._tls.require_certificate else 'false'}",
            ]
            if self._tls.identity_as_username:
                lines.append("use_identity_as_username true")
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> LocalBroker:
        """Start mosquitto and wait until it accepts TCP connections."""
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt install mosquitto)")
        conf = self._write_config()
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {err}{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise TimeoutError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> int | None:
        """SIGKILL: no goodbye, no final save; what was autosaved survives. Returns mosquitto's
        exit status (``-SIGKILL`` only if the signal hit it alive), ``None`` if never started."""
        return self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its state and exits."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> int | None:
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        status = self._proc.returncode
        self._proc = None
        return status

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
