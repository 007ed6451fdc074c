"""paho's log reaches ``kiosk.uplink.paho`` without its per-packet DEBUG trace (unless that
logger shows DEBUG: the trace is not even offered to it), and the clean-disconnect noise
stays filtered."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kiosk.uplink.client import _PAHO_LOG, _PahoLog


class Offered(logging.Logger):
    """A logger that records every line offered to it."""

    def __init__(self, level: int) -> None:
        super().__init__("offered", level)
        self.offered: list[int] = []

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        self.offered.append(level)


def test_debug_trace_not_offered_errors_kept(caplog: pytest.LogCaptureFixture) -> None:
    target = Offered(logging.INFO)
    log = _PahoLog(target)
    log.log(logging.DEBUG, "Sending PUBLISH (d%d, q%d, r%d, m%d)", 0, 1, 0, 7)
    log.log(logging.ERROR, "failed to receive on socket: %s", "x")
    assert target.offered == [logging.ERROR]

    caplog.set_level(logging.INFO, logger=_PAHO_LOG.name)
    log = _PahoLog(_PAHO_LOG)
    log.log(logging.ERROR, "failed to receive on socket: %s", "[SSL: TLSV13_ALERT]")
    log.log(logging.ERROR, "Client is not connected")  # noise after a clean disconnect
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "failed to receive on socket: [SSL: TLSV13_ALERT]")
    ]


def test_debug_trace_kept_when_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    target = Offered(logging.DEBUG)
    _PahoLog(target).log(logging.DEBUG, "Received PUBACK (Mid: %d)", 7)
    assert target.offered == [logging.DEBUG]
    caplog.set_level(logging.DEBUG, logger=_PAHO_LOG.name)
    _PahoLog(_PAHO_LOG).log(logging.DEBUG, "Received PUBACK (Mid: %d)", 7)
    assert [r.getMessage() for r in caplog.records] == ["Received PUBACK (Mid: 7)"]
