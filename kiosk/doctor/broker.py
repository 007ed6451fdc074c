"""``kiosk doctor``'s broker check: one MQTT v5 connect with the kiosk's TLS and credentials.

It connects as ``<kiosk id>-doctor`` with no Last Will and a clean start, so the running
kiosk's session, its retained status and its queued messages are left alone.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

from kiosk.config import Config, ConfigError, read_secret
from kiosk.doctor.findings import FAIL, OK, SKIP, WARN, Finding

CLOCK_WORDS = ("not yet valid", "expired")

REFUSALS = {
    0x85: "the broker may accept only this kiosk's own client id; the doctor connects as "
    "<id>-doctor: allow it, or trust the running kiosk's status topic",
    0x86: "用户名或密码错 / wrong user name or password: /etc/kiosk/credentials/mqtt_password",
    0x87: "未授权 / not authorised (mosquitto's answer to a wrong password too): check "
    "/etc/kiosk/credentials/mqtt_password and uplink.username; else ask the county to add "
    "this kiosk to the broker's users",
    0x8C: "bad authentication method: the broker wants another kind of login",
}


def check_broker(cfg: Config, env: Mapping[str, str], seconds: float) -> Finding:
    """TCP, TLS (certificate and host name verified), CONNACK, then a clean disconnect."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from kiosk.uplink.client import tls_context

    up = cfg.uplink
    where = f"{up.host}:{up.port}"
    if not up.enabled:
        return Finding(SKIP, "uplink disabled (uplink.enabled = false)")
    try:
        password = up.password or read_secret(
            "uplink.password", up.password_file, up.password_credential, env
        )
    except ConfigError as exc:
        return Finding(
            FAIL,
            "; ".join(str(p) for p in exc.problems),
            "密码文件 / /etc/kiosk/credentials/mqtt_password (root only); --credentials DIR",
        )
    if up.username is not None and password == "":
        return Finding(
            FAIL,
            "the MQTT password is empty",
            "写入密码 / put the county's password in /etc/kiosk/credentials/mqtt_password",
        )
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{cfg.kiosk.id}-doctor",
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )
    client.connect_timeout = seconds
    if up.username is not None:
        client.username_pw_set(up.username, password)
    if up.tls.enabled:
        try:
            client.tls_set_context(tls_context(up.tls))
        except (OSError, ssl.SSLError) as exc:
            return Finding(FAIL, f"TLS files: {exc}", "检查证书文件 / uplink.tls.* paths, modes")
    answer: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer["rc"] = rc

    client.on_connect = on_connect
    started = time.monotonic()
    try:
        client.connect(up.host, up.port, keepalive=max(10, int(seconds) * 2))
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        hint = "信任 / uplink.tls.ca_file must hold the county CA; the host name must match"
        if any(word in reason for word in CLOCK_WORDS):
            hint = "时钟 / the clock decides validity: see the clock row; then retry"
        return Finding(FAIL, f"{where}: TLS certificate refused: {reason}", hint)
    except (ssl.SSLError, ConnectionResetError) as exc:
        return Finding(FAIL, f"{where}: TLS handshake failed: {exc}", _port_hint(up.tls.enabled))
    except ConnectionRefusedError:
        return Finding(FAIL, f"nothing listens at {where}", _port_hint(up.tls.enabled))
    except socket.gaierror as exc:
        return Finding(FAIL, f"cannot resolve {up.host}: {exc.strerror}", "DNS / 网络")
    except OSError as exc:  # timeouts, unreachable networks
        return Finding(FAIL, f"{where}: {exc}", "网络 / network, firewall (TCP to the broker)")
    try:
        while "rc" not in answer and time.monotonic() - started < seconds:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
        rc = answer.get("rc")
        if rc is None:
            return Finding(
                FAIL,
                f"{where}: no CONNACK within {seconds:.0f} s (connection closed or silent)",
                _port_hint(up.tls.enabled),
            )
        if rc.is_failure:
            return Finding(
                FAIL,
                f"{where}: connection refused: 0x{rc.value:02X} {rc.getName()}",
                REFUSALS.get(rc.value, "ask the county's broker administrator"),
            )
        took = (time.monotonic() - started) * 1000
        auth = f"user {up.username}" if up.username else "no user name"
        tls = _tls_version(client) if up.tls.enabled else "no TLS"
        detail = f"{where}: connected in {took:.0f} ms (MQTT v5, {tls}, {auth})"
        if not up.tls.enabled and not _loopback(up.host):
            return Finding(
                WARN,
                detail + ": entries travel unencrypted",
                "uplink.tls.enabled = true, port 8883",
            )
        return Finding(OK, detail)
    finally:
        client.disconnect()
        client.loop(timeout=0.1)
        sock = client.socket()
        if sock is not None:
            sock.close()


def _tls_version(client: Any) -> str:
    sock = client.socket()
    version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
    return version or "TLS"


def _port_hint(tls: bool) -> str:
    if tls:
        return "端口 / TLS brokers listen on 8883; is uplink.port a plain (1883) port?"
    return "端口 / plain MQTT is 1883; if the broker wants TLS set uplink.tls.enabled = true"


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
