"""``kiosk run`` as systemd starts it: a real process with a replayed camera, the thermometer
simulator on a pty and a local broker; one visitor passes, SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.codes import county
from kiosk.codes.keys import generate, load_issuer
from kiosk.codes.qrimage import write_qr_png
from kiosk.ledger import Ledger
from kiosk.model import CodeStatus, PassClaims
from kiosk.sensors.simulator import ThermometerSimulator
from kiosk.uplink.localbroker import LocalBroker
from tests.helpers import config_dict, kiosk_popen, write_config
from tests.integration.test_uplink import Inbox, collecting, wait_until

pytestmark = pytest.mark.integration


def issue_pass(directory: Path) -> tuple[str, Path]:
    """A green county pass and the trust folder that verifies it."""
    now = datetime.now(UTC)
    key_pem, cert_pem = generate("330106", "ES256", now - timedelta(days=10), 30)
    (directory / "county.pem").write_bytes(key_pem + cert_pem)
    trust = directory / "trust"
    trust.mkdir()
    (trust / "330106.crt").write_bytes(cert_pem)
    claims = PassClaims(
        "330106",
        "c0ffee" * 4,
        "张*中",
        CodeStatus.GREEN,
        now - timedelta(hours=1),
        now - timedelta(days=1),
        now + timedelta(days=7),
    )
    return county.issue(claims, load_issuer(directory / "county.pem")), trust


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[ThermometerSimulator]:
    sim = ThermometerSimulator("gy-mcu90614", link=tmp_path / "ttyTHERMO")
    sim.start()
    yield sim
    sim.stop()


def kiosk_config(tmp_path: Path, port: int, sim: ThermometerSimulator, **extra: Any) -> Path:
    text, trust = issue_pass(tmp_path)
    write_qr_png(text, tmp_path / "phone.png")
    (tmp_path / "subject.key").write_bytes(b"k" * 32)
    values = config_dict(
        tmp_path / "state", port,
        camera={"source": "replay", "replay_path": str(tmp_path / "phone.png"), "fps": 5,
                "replay_loop": True},
        thermometer={"protocol": "gy-mcu90614", "port": sim.path},
        verify={"county_trust": [str(trust)], "subject_key_file": str(tmp_path / "subject.key")},
        checkpoint={"measure_timeout_s": 30},
        **extra,
    )  # fmt: skip
    return write_config(tmp_path / "kiosk.toml", values)


def test_run_passes_a_visitor_and_stops_cleanly_on_sigterm(
    tmp_path: Path, broker: LocalBroker, simulator: ThermometerSimulator
) -> None:
    config = kiosk_config(tmp_path, broker.port, simulator)
    with collecting(broker.port) as collector:
        inbox = Inbox(collector)
        proc = kiosk_popen("--log-level", "INFO", "run", "--config", str(config))
        try:
            assert wait_until(lambda: [d["state"] for d in inbox.on("status")] == ["online"], 20)
            simulator.play("visitor:36.3")  # the pass is already held up to the camera
            assert wait_until(lambda: len(inbox.on("entries")) == 1, 30)
            (entry,) = inbox.on("entries")
            assert entry["decision"] == "pass" and entry["masked_name"] == "张*中"
            assert entry["code_kind"] == "county-pass" and entry["temperature_state"] == "ok"
            assert "CP1:" not in json.dumps(entry)  # no raw code text leaves the kiosk
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert wait_until(lambda: [d["state"] for d in inbox.on("status")][-1:] == ["offline"], 5)
    assert "CP1:" not in err  # nor into the logs
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert [(e.decision.value, ok) for e, ok in ledger.entries()] == [("pass", True)]


def test_run_refuses_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[camera]\nsource = "webcam"\n')
    proc = kiosk_popen("run", "--config", str(bad))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert (
        'camera.source: expected one of "picamera2", "opencv", "replay", "synthetic", '
        'got "webcam" (kiosk.toml)' in err
    )
