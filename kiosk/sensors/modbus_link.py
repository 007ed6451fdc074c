"""minimalmodbus adapter for RS-485 Modbus RTU pyrometers: poll registers, decode temperatures."""

from __future__ import annotations

import logging
import termios
import time
from collections.abc import Callable
from typing import Any

from kiosk.model import Reading
from kiosk.sensors.base import ParserStats
from kiosk.sensors.modbus import RegisterMap, decode_block

logger = logging.getLogger(__name__)

IDLE_WAIT_S = 0.1  # read() sleeps at most this long while no poll is due


class ModbusLink:
    """Polls a pyrometer's object (and ambient) registers every ``poll_interval_s``.

    A missing reply, a CRC error or a device exception is counted and yields no reading (the
    reader's watchdog turns a run of them into *not ready*); serial errors raise ``OSError``.
    The port is opened here and handed to minimalmodbus, so its per-name port cache is unused.
    """

    def __init__(
        self,
        port: str,
        baud: int,
        regmap: RegisterMap,
        poll_interval_s: float = 0.2,
        timeout_s: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.stats = ParserStats()
        self.last_device_error: str | None = None
        self._baud = baud
        self._map = regmap
        self._interval = poll_interval_s
        self._timeout = timeout_s
        self._clock = clock
        self._instrument: Any = None
        self._next_poll = 0.0

    def open(self) -> None:
        import minimalmodbus  # hardware libraries: only here
        import serial

        try:
            port = serial.Serial(
                self.port, self._baud, timeout=self._timeout, write_timeout=1.0, exclusive=True
            )
        except (serial.SerialException, ValueError) as exc:
            raise OSError(str(exc)) from exc
        instrument = minimalmodbus.Instrument(port, self._map.unit)
        instrument.clear_buffers_before_each_transaction = True
        self._instrument = instrument
        self._next_poll = self._clock()

    def read(self) -> list[Reading]:
        import minimalmodbus

        if self._instrument is None:
            raise OSError(f"{self.port} is not open")
        wait = self._next_poll - self._clock()
        if wait > 0:
            time.sleep(min(wait, IDLE_WAIT_S))
            return []
        self._next_poll = self._clock() + self._interval
        values: dict[str, float | None] = {"object": None, "ambient": None}
        for start, count in self._map.reads():
            try:
                regs = self._instrument.read_registers(start, count, self._map.function)
            except minimalmodbus.NoResponseError:
                self.stats.frame_errors += 1
                return []
            except minimalmodbus.InvalidResponseError as exc:
                if "checksum" in str(exc).lower():
                    self.stats.checksum_errors += 1
                else:
                    self.stats.frame_errors += 1
                return []
            except minimalmodbus.SlaveReportedException as exc:
                self.stats.frame_errors += 1
                self.last_device_error = str(exc)
                return []
            except termios.error as exc:
                raise OSError(f"port failed: {exc}") from exc
            obj, amb = decode_block(self._map, start, regs)
            values["object"] = obj if obj is not None else values["object"]
            values["ambient"] = amb if amb is not None else values["ambient"]
        obj = values["object"]
        if obj is None:
            self.stats.frame_errors += 1
            return []
        self.stats.frames += 1
        return [Reading(obj, values["ambient"], self._clock())]

    def close(self) -> None:
        instrument, self._instrument = self._instrument, None
        if instrument is not None and instrument.serial is not None:
            try:
                instrument.serial.close()
            except (OSError, termios.error) as exc:
                logger.debug("closing %s: %s", self.port, exc)
