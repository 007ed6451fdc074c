"""The ledger and uplink commands as a user runs them: real processes, files and broker."""

from __future__ import annotations

import csv
import io
import json
import signal
from pathlib import Path

import pytest

from kiosk.uplink.localbroker import LocalBroker, free_port
from tests.helpers import committed_count, config_dict, kiosk_cmd, kiosk_popen, write_config
from tests.integration.test_uplink import Inbox, collecting, wait_until
from tests.web_support import ledger_csv_rows

pytestmark = pytest.mark.integration

DRAINED = {"pending": 0, "oldest_age_s": None, "parked": 0, "confirmed_seq": None}


def _config(tmp_path: Path, port: int, **sections: dict[str, object]) -> Path:
    return write_config(tmp_path / "kiosk.toml", config_dict(tmp_path / "state", port, **sections))


def test_config_check_prints_effective_config_or_errors(tmp_path: Path) -> None:
    good = _config(tmp_path, 1883, uplink={"password": "hunter2"})
    result = kiosk_cmd("config", "check", str(good))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["uplink"]["port"] == 1883 and shown["uplink"]["password"] == "********"
    assert "hunter2" not in result.stdout + result.stderr

    bad = tmp_path / "kiosk.toml"
    bad.write_text('[uplink]\nport = "abc"\n')
    result = kiosk_cmd("config", "check", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'uplink.port: expected an integer 1-65535, got "abc" (kiosk.toml)'
    )
    result = kiosk_cmd("config", "check", str(good), env={"KIOSK_UPLINK__WINDOW": "x"})
    assert result.returncode == 1 and "(env KIOSK_UPLINK__WINDOW)" in result.stderr


def test_config_check_refuses_a_clear_text_password_to_a_remote_broker(tmp_path: Path) -> None:
    remote = {"host": "10.20.30.40", "username": "k-001", "password": "hunter2"}
    config = _config(tmp_path, 1883, uplink=remote)
    result = kiosk_cmd("config", "check", str(config))
    assert result.returncode == 1 and result.stdout == ""
    assert "clear text to 10.20.30.40:1883" in result.stderr
    assert "uplink.allow_plaintext_password = true" in result.stderr
    allowed = _config(tmp_path, 1883, uplink={**remote, "allow_plaintext_password": True})
    result = kiosk_cmd("config", "check", str(allowed))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("WARNING 警告: the MQTT user name and password go in clear")
    assert "hunter2" not in result.stdout + result.stderr
    local = _config(tmp_path, 1883, uplink={"username": "k-001", "password": "hunter2"})
    result = kiosk_cmd("config", "check", str(local))
    assert result.returncode == 0 and result.stderr == ""


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert kiosk_cmd("simulate", "entries", "--count", "3").returncode == 2  # no --config
    assert kiosk_cmd("outbox").returncode == 2
    assert kiosk_cmd("ledger", "export", "--config", "x", "--format", "xml").returncode == 2
    assert kiosk_cmd("nonsense").returncode == 2


def test_simulate_status_drain_export(tmp_path: Path, broker: LocalBroker) -> None:
    config = _config(tmp_path, broker.port)
    with collecting(broker.port) as collector:
        inbox = Inbox(collector)
        result = kiosk_cmd(
            "simulate",
            "entries",
            "--config",
            str(config),
            "--count",
            "120",
            "--rate",
            "0",
            "--timeout",
            "60",
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["committed"] == 120 and summary["first_seq"] == 1
        assert summary["last_seq"] == 120
        assert summary["outbox"] == {
            "pending": 0,
            "oldest_age_s": None,
            "parked": 0,
            "confirmed_seq": None,
        }
        assert wait_until(lambda: len(inbox.on("entries")) == 120)

    status = kiosk_cmd("outbox", "status", "--config", str(config))
    assert json.loads(status.stdout) == {
        "pending": 0,
        "oldest_age_s": None,
        "parked": 0,
        "confirmed_seq": None,
    }

    exported = kiosk_cmd("ledger", "export", "--config", str(config), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert rows == ledger_csv_rows(tmp_path / "state" / "ledger.sqlite")  # every cell
    assert [int(r["seq"]) for r in rows] == list(range(1, 121))
    assert all(r["delivered"] == "True" for r in rows)
    assert {r["id"] for r in rows} == {d["id"] for d in inbox.on("entries")}

    lines = kiosk_cmd(
        "ledger",
        "export",
        "--config",
        str(config),
        "--format",
        "jsonl",
        "--since",
        "2000-01-01T00:00:00Z",
    ).stdout.splitlines()
    assert len(lines) == 120 and json.loads(lines[0])["seq"] == 1
    future = kiosk_cmd(
        "ledger",
        "export",
        "--config",
        str(config),
        "--format",
        "jsonl",
        "--since",
        "2999-01-01T00:00:00Z",
    )
    assert future.returncode == 0 and future.stdout == ""


def test_simulate_commits_without_broker_and_drain_delivers_later(tmp_path: Path) -> None:
    port = free_port()
    config = _config(tmp_path, port)
    result = kiosk_cmd(
        "simulate", "entries", "--config", str(config), "--count", "30", "--timeout", "3", "--echo"
    )
    assert result.returncode == 1  # committed everything, but the outbox did not empty in time
    *echoed, summary = [json.loads(line) for line in result.stdout.splitlines()]
    owed = summary["outbox"]["pending"]  # one row per entry plus one per alert
    assert summary["committed"] == 30 and owed >= 30
    # --echo: each committed entry's wire documents, as committed, in order
    assert [e["entry"]["seq"] for e in echoed] == list(range(1, 31))
    alerts = [e["alert"] for e in echoed if e["alert"] is not None]
    assert owed == 30 + len(alerts)
    assert all(a["entry_id"] == e["entry"]["id"] for e in echoed if (a := e["alert"]))
    assert summary["outbox"]["oldest_age_s"] >= 0

    assert kiosk_cmd("uplink", "drain", "--config", str(config), "--timeout", "2").returncode == 1
    status = json.loads(kiosk_cmd("outbox", "status", "--config", str(config)).stdout)
    assert status["pending"] == owed and status["oldest_age_s"] > 0

    with LocalBroker(tmp_path / "broker", port=port):
        drained = kiosk_cmd("uplink", "drain", "--config", str(config), "--timeout", "30")
        assert drained.returncode == 0, drained.stderr
        assert json.loads(drained.stdout)["outbox"]["pending"] == 0


def test_status_and_export_work_beside_a_running_kiosk(tmp_path: Path, broker: LocalBroker) -> None:
    config = _config(tmp_path, broker.port)
    proc = kiosk_popen(
        "simulate",
        "entries",
        "--config",
        str(config),
        "--count",
        "100000",
        "--rate",
        "200",
        "--timeout",
        "120",
    )
    try:
        ledger = tmp_path / "state" / "ledger.sqlite"
        assert wait_until(lambda: ledger.exists() and committed_count(ledger) > 0)
        for _ in range(3):
            status = kiosk_cmd("outbox", "status", "--config", str(config))
            assert status.returncode == 0, status.stderr
            assert set(json.loads(status.stdout)) == set(DRAINED)
            export = kiosk_cmd("ledger", "export", "--config", str(config), "--format", "jsonl")
            assert export.returncode == 0, export.stderr
            seqs = [json.loads(line)["seq"] for line in export.stdout.splitlines()]
            assert seqs and seqs == list(range(1, len(seqs) + 1))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1  # stopped before committing all it was asked to
    assert json.loads(out)["committed"] > 0


def test_last_will_on_kill_and_offline_on_sigterm(tmp_path: Path, broker: LocalBroker) -> None:
    config = _config(tmp_path, broker.port, uplink={"keepalive_s": 5})
    with collecting(broker.port) as collector:
        inbox = Inbox(collector)

        def states() -> list[str]:
            return [d["state"] for d in inbox.on("status")]

        running = ("simulate", "entries", "--config", str(config), "--count", "1000", "--rate", "2")
        proc = kiosk_popen(*running)
        assert wait_until(lambda: states() == ["online"])
        proc.send_signal(signal.SIGTERM)  # clean shutdown: explicit offline at once
        proc.communicate(timeout=30)
        assert wait_until(lambda: states() == ["online", "offline"], timeout=3)

        proc = kiosk_popen(*running)
        assert wait_until(lambda: states()[-1:] == ["online"])
        proc.kill()  # no goodbye: the broker publishes the Last Will after 1.5 keepalives
        proc.communicate(timeout=30)
        assert wait_until(
            lambda: states() == ["online", "offline", "online", "offline"], timeout=15
        )
        will = inbox.on("status")[-1]
    assert will == {"schema": 1, "state": "offline", "kiosk": "k-001", "site": "fanzhuang"}
