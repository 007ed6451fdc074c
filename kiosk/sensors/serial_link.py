"""pyserial adapter for the byte-stream protocols: open the port, send commands, feed the parser."""

from __future__ import annotations

import logging
import termios
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kiosk.model import Reading
from kiosk.sensors.base import StreamParser

if TYPE_CHECKING:
    import serial

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.1  # one read() waits at most this long, so the reader checks its stop event


class SerialStreamLink:
    """A serial port carrying one of the stream protocols (GY-MCU90614, LU90614, ASCII, CJMCU).

    ``open`` opens the port exclusively, drops stale input and sends the init commands;
    ``read`` sends the poll command when one is due (query modes) and returns what the parser
    made of the bytes that arrived. Every pyserial error is an ``OSError`` (an unplug to the
    reader); ``termios.error`` from a hung-up tty is turned into one.
    """

    def __init__(
        self,
        port: str,
        baud: int,
        parser: StreamParser,
        init_commands: Sequence[bytes] = (),
        poll: bytes | None = None,
        poll_interval_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.stats = parser.stats
        self._baud = baud
        self._parser = parser
        self._init = tuple(init_commands)
        self._poll = poll
        self._poll_interval = poll_interval_s
        self._clock = clock
        self._serial: serial.Serial | None = None
        self._next_poll = 0.0

    def open(self) -> None:
        import serial  # hardware library: only here

        try:
            port = serial.Serial(
                self.port,
                self._baud,
                timeout=READ_TIMEOUT_S,
                write_timeout=1.0,
                exclusive=True,
            )
        except (serial.SerialException, ValueError) as exc:
            raise OSError(str(exc)) from exc
        self._serial = port
        try:
            port.reset_input_buffer()
            for command in self._init:
                port.write(command)
        except termios.error as exc:
            raise OSError(f"port setup failed: {exc}") from exc
        self._next_poll = self._clock()
        logger.debug("opened %s at %d baud", self.port, self._baud)

    def read(self) -> list[Reading]:
        port = self._serial
        if port is None:
            raise OSError(f"{self.port} is not open")
        try:
            now = self._clock()
            if self._poll is not None and now >= self._next_poll:
                port.write(self._poll)
                self._next_poll = now + self._poll_interval
            data = port.read(port.in_waiting or 1)
            if data and port.in_waiting:
                data += port.read(port.in_waiting)
        except termios.error as exc:
            raise OSError(f"port failed: {exc}") from exc
        return self._parser.feed(data, self._clock()) if data else []

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except (OSError, termios.error) as exc:
                logger.debug("closing %s: %s", self.port, exc)
