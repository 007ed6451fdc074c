"""``kiosk demo`` as the README runs it: every visitor right, a broker outage, nothing lost."""

from __future__ import annotations

import re

import pytest

from kiosk.uplink.localbroker import free_port
from tests.helpers import kiosk_cmd

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_outcomes_right_and_nothing_lost_across_a_broker_outage() -> None:
    result = kiosk_cmd("demo", "--duration", "50", "--http-port", str(free_port()), timeout=180)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "county broker killed (SIGKILL)" in out and "county broker back" in out
    visitors = re.search(r"visitors (\d+): (\d+) right on screen, (\d+) right in the ledger", out)
    assert visitors is not None, out
    total, on_screen, in_ledger = (int(g) for g in visitors.groups())
    assert total >= 8 and on_screen == total and in_ledger == total  # every kind at least once
    received = re.search(r"county broker received (\d+) of (\d+) entries; missing (\d+)", out)
    assert received is not None, out
    assert received.group(1) == received.group(2) and received.group(3) == "0"
    assert "✗" not in out
