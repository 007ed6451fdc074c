"""``kiosk doctor`` as a technician runs it, against the demo devices: the synthetic camera,
the thermometer simulator on a pty, a throwaway mosquitto with TLS and a password, mock GPIO
pins; then against faults, which must show as failing rows and exit 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiosk.sensors.simulator import ThermometerSimulator
from kiosk.uplink.localbroker import BrokerTls, LocalBroker, free_port
from tests.codes_support import make_issuer
from tests.helpers import Pki, write_config

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    """One kiosk's files and devices: a config to tweak per test and where everything lives."""

    tmp: Path
    values: dict[str, Any]
    credentials: Path
    broker: LocalBroker
    thermometer: str

    def doctor(self, *extra: str, prefix: tuple[str, ...] = (), **changes: dict[str, Any]) -> (
        tuple[int, dict[str, Any]]
    ):  # fmt: skip
        values = json.loads(json.dumps(self.values))
        for section, table in changes.items():
            values.setdefault(section, {}).update(table)
        config = write_config(self.tmp / "kiosk.toml", values)
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "kiosk", "doctor", "--config", str(config),
             "--credentials", str(self.credentials), "--timeout", "3", *extra],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
        )  # fmt: skip
        if "--json" not in extra:
            return done.returncode, {"stderr": done.stderr}
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout)


def rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in report["checks"]}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    pki = Pki(tmp_path / "pki")
    cert, key = pki.issue("127.0.0.1", server=True)
    issuer = make_issuer(tmp_path / "issuer", "330106")
    (tmp_path / "trust").mkdir()
    shutil.copy(issuer.cert, tmp_path / "trust")
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "mqtt_password").write_text(PASSWORD + "\n")
    (credentials / "subject_key").write_text("c2VjcmV0IGtleSBvZiB0aGlzIGtpb3NrIDMyIGJ5dGVz\n")
    (tmp_path / "state").mkdir()
    tls = BrokerTls(pki.ca_file, cert, key)
    with (
        LocalBroker(tmp_path / "broker", users={"k-001": PASSWORD}, tls=tls) as broker,
        ThermometerSimulator("gy-mcu90614", tmp_path / "ttyGY") as sim,
    ):
        values = {
            "kiosk": {"id": "k-001", "site": "fanzhuang", "state_dir": str(tmp_path / "state")},
            "uplink": {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": "k-001",
                "password_credential": "mqtt_password",
                "tls": {"enabled": True, "ca_file": str(pki.ca_file)},
            },
            "verify": {
                "county_trust": [str(tmp_path / "trust")],
                "subject_key_credential": "subject_key",
            },
            "camera": {"source": "synthetic"},
            "thermometer": {"protocol": "gy-mcu90614", "port": sim.path},
            "gate": {"relay_pin": 17, "buzzer_pin": 27, "led_pass_pin": 5, "led_deny_pin": 6},
        }
        yield Site(tmp_path, values, credentials, broker, sim.path)


def test_every_check_passes_on_the_demo_devices(site: Site) -> None:
    code, report = site.doctor("--json")
    checks = rows(report)
    assert list(checks) == [
        "config", "state_dir", "disk", "outbox", "verification", "lists", "camera",
        "thermometer", "broker", "clock", "gate",
    ]  # fmt: skip
    for name in checks:
        if name == "clock":  # this machine's clock may or may not be NTP-synchronised
            assert checks[name]["status"] in ("ok", "warn"), checks[name]
        else:
            assert checks[name]["status"] == "ok", checks[name]
    assert code == 0 and report["ready"] is True and report["blocking"] == []
    assert (
        "1 county and 0 EU DCC certificates; subject key loaded" in checks["verification"]["detail"]
    )
    assert "synthetic: 3 frames 640x480" in checks["camera"]["detail"]
    assert "readings (gy-mcu90614 (continuous) at 9600 baud)" in checks["thermometer"]["detail"]
    assert "connected" in checks["broker"]["detail"] and "TLSv1.3" in checks["broker"]["detail"]
    assert "user k-001" in checks["broker"]["detail"]
    assert "relay GPIO17" in checks["gate"]["detail"]
    assert PASSWORD not in json.dumps(report)


def test_the_table_for_people(site: Site) -> None:
    code, out = site.doctor()
    text = out["stderr"]
    assert code == 0
    assert "摄像头 camera" in text and "测温仪 thermometer" in text and "县平台 broker" in text
    assert "可以工作 READY" in text


def test_no_broker_and_an_unwritable_state_dir_and_a_wrong_protocol(site: Site) -> None:
    state = site.tmp / "locked"
    state.mkdir(mode=0o555)
    # as root, permission bits alone do not stop a write: drop the override capability
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
    code, report = site.doctor(
        "--json",
        prefix=prefix if os.geteuid() == 0 else (),
        kiosk={"state_dir": str(state)},
        uplink={"port": free_port()},
        thermometer={"protocol": "lu90614"},
    )
    checks = rows(report)
    assert code == 1 and report["ready"] is False
    assert set(report["blocking"]) == {"state_dir", "broker", "thermometer"}
    assert checks["state_dir"]["status"] == "fail"
    assert "Permission denied" in checks["state_dir"]["detail"]
    assert "chown" in checks["state_dir"]["hint"]
    assert checks["broker"]["status"] == "fail"
    assert checks["broker"]["detail"].startswith("nothing listens at 127.0.0.1:")
    assert checks["thermometer"]["status"] == "fail"
    assert "but gy-mcu90614 (continuous) at 9600 baud answers" in checks["thermometer"]["detail"]
    assert 'thermometer.protocol = "gy-mcu90614"' in checks["thermometer"]["hint"]
    assert checks["camera"]["status"] == "ok"


def test_wrong_port_plain_mqtt_to_the_tls_listener(site: Site) -> None:
    code, report = site.doctor("--json", uplink={"tls": {"enabled": False}})
    broker = rows(report)["broker"]
    assert code == 1 and broker["status"] == "fail"
    assert "no CONNACK" in broker["detail"] or "closed" in broker["detail"]
    assert "uplink.tls.enabled = true" in broker["hint"]


def test_a_wrong_password_is_named_as_such(site: Site) -> None:
    (site.credentials / "mqtt_password").write_text("pa55-wr0ng\n")
    code, report = site.doctor("--json")
    broker = rows(report)["broker"]
    assert code == 1 and broker["status"] == "fail"
    assert "0x86" in broker["detail"] or "0x87" in broker["detail"]  # mosquitto says 0x87
    assert "mqtt_password" in broker["hint"]
    assert "pa55-wr0ng" not in json.dumps(report)


def test_an_untrusted_broker_certificate(site: Site) -> None:
    other = Pki(site.tmp / "other", "Other CA")
    untrusted = {"enabled": True, "ca_file": str(other.ca_file)}
    code, report = site.doctor("--json", uplink={"tls": untrusted})
    broker = rows(report)["broker"]
    assert code == 1 and "TLS certificate refused" in broker["detail"]


def test_missing_thermometer_and_camera_files(site: Site) -> None:
    code, report = site.doctor(
        "--json",
        "--no-probe",
        thermometer={"port": str(site.tmp / "ttyUSB9")},
        camera={"source": "replay", "replay_path": str(site.tmp / "no-such-folder")},
    )
    checks = rows(report)
    assert code == 1
    assert checks["thermometer"]["status"] == "fail"
    assert "ttyUSB9" in checks["thermometer"]["detail"]
    assert "plug it in" in checks["thermometer"]["hint"]
    assert checks["camera"]["status"] == "fail"


def test_a_broken_config_skips_what_depends_on_it(site: Site) -> None:
    code, report = site.doctor("--json", uplink={"port": "eighty"})
    checks = rows(report)
    assert code == 1 and report["blocking"] == ["config"]
    assert "uplink.port: expected an integer 1-65535" in checks["config"]["detail"]
    assert checks["camera"]["status"] == "skip" and checks["broker"]["status"] == "skip"
    assert checks["clock"]["status"] in ("ok", "warn")


def test_setpriv_is_available_for_the_root_case() -> None:
    assert os.geteuid() != 0 or shutil.which("setpriv") is not None
