"""A simulated serial thermometer on a real pseudo-terminal, playing scenarios byte by byte."""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty
from pathlib import Path
from types import TracebackType

from kiosk.sensors import modbus
from kiosk.sensors.ascii_lines import Style
from kiosk.sensors.devices import (
    SILENT,
    Device,
    GyDevice,
    LuDevice,
    ModbusDevice,
    Sample,
    StreamDevice,
)
from kiosk.sensors.scenarios import Fault, Scenario, scenario

logger = logging.getLogger(__name__)

SPLIT_GAP_S = 0.015  # pause between the pieces of a split frame


def make_device(
    protocol: str, regmap: modbus.RegisterMap | None = None, style: Style = "canonical"
) -> Device:
    """The simulated module for ``protocol``; Modbus uses ``regmap`` (default: Calex preset)."""
    if protocol == "gy-mcu90614":
        return GyDevice()
    if protocol == "lu90614":
        return LuDevice()
    if protocol in ("ascii", "cjmcu66"):
        return StreamDevice(protocol, style)
    if protocol == "modbus":
        chosen = regmap or modbus.PRESETS["calex"]
        preset = next((n for n, m in modbus.PRESETS.items() if m == chosen), None)
        return ModbusDevice(chosen, modbus.EMISSIVITY_REGISTER.get(preset or ""))
    raise ValueError(f'unknown protocol "{protocol}"')


class ThermometerSimulator:
    """A thermometer module behind a pseudo-terminal: the host opens ``start()``'s path.

    Streaming modules write a frame every ``1/rate_hz`` s; request/response modules answer
    what the host sends. ``play()`` switches the scenario from any thread. With ``link``, the
    path is a symlink that survives an ``unplug`` fault: the pty is closed (the host sees a
    hang-up, like a USB adapter pulled out), the link removed, and a new pty linked under the
    same name when the phase ends. With ``device``, the simulator attaches to an existing
    tty (one end of a ``socat`` pair) instead, and re-attaches when it comes back.
    """

    def __init__(
        self,
        protocol: str,
        link: Path | str | None = None,
        *,
        device: str | None = None,
        regmap: modbus.RegisterMap | None = None,
        style: Style = "canonical",
        rate_hz: float = 10.0,
        seed: int = 0,
    ) -> None:
        self.protocol = protocol
        self._link = Path(link) if link is not None else None
        self._attach = device
        self._device = make_device(protocol, regmap, style)
        self._period = 1.0 / rate_hz
        self._rng = random.Random(seed)  # noqa: S311 - simulated jitter and noise
        self._lock = threading.Lock()
        self._scenario = scenario("idle")
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._slave: int | None = None
        self._path = ""
        self.plugs = 0  # how many times a port appeared (1 + re-plugs)

    @property
    def path(self) -> str:
        """The path the host opens: the link if given, else the current ``/dev/pts/N``."""
        return str(self._link) if self._link is not None else (self._attach or self._path)

    def start(self) -> str:
        self._plug()
        self._thread = threading.Thread(target=self._run, name="thermo-sim", daemon=True)
        self._thread.start()
        return self.path

    def play(self, what: Scenario | str) -> None:
        """Start a scenario now (thread-safe); a name such as ``fever`` or ``visitor:37.0``."""
        chosen = scenario(what) if isinstance(what, str) else what
        with self._lock:
            self._scenario, self._started = chosen, time.monotonic()
        logger.info("simulator %s: playing %s", self.protocol, chosen.name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._unplug()

    def __enter__(self) -> ThermometerSimulator:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def _now(self) -> tuple[Sample, Fault]:
        with self._lock:
            chosen, started = self._scenario, self._started
        obj, amb, jitter, fault = chosen.at(time.monotonic() - started)
        obj += self._rng.uniform(-jitter, jitter) if jitter else 0.0
        return Sample(round(obj, 2), round(amb, 2)), fault

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            sample, fault = self._now()
            if self._attach is None:
                if fault == "unplug" and self._fd is not None:
                    self._unplug()
                elif fault != "unplug" and self._fd is None:
                    self._plug()
            elif self._fd is None:
                self._plug()
            fd = self._fd
            if fd is None:
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], max(0.0, next_tick - time.monotonic()))
                if ready:
                    data = os.read(fd, 4096)
                    if not data:
                        raise OSError("end of file")
                    for reply in self._device.receive(data, sample, fault):
                        self._send(fd, reply, fault)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = max(next_tick + self._period, now - self._period)
                    frame = self._device.tick(sample, fault)
                    if fault == "garbage":
                        frame = self._rng.randbytes(9)
                    if frame is not None and fault not in SILENT:
                        self._send(fd, frame, fault)
            except OSError as exc:  # the other end of an attached tty went away
                logger.info("simulator port %s lost: %s", self.path, exc)
                self._unplug()
                self._stop.wait(0.05)

    def _send(self, fd: int, data: bytes, fault: Fault) -> None:
        if fault == "noise":
            data = self._rng.randbytes(self._rng.randint(2, 8)) + data
        pieces = [data]
        if fault == "split" and len(data) > 2:
            cut = self._rng.randint(1, len(data) - 1)
            pieces = [data[:cut], data[cut:]]
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(SPLIT_GAP_S)
            try:
                os.write(fd, piece)
            except BlockingIOError:
                pass  # nobody reads the port and its buffer is full: bytes are lost, as on a UART

    def _plug(self) -> None:
        if self._attach is not None:
            try:
                fd = os.open(self._attach, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:
                return  # not there (yet): try again on the next turn
            tty.setraw(fd)
            self._fd = fd
            self.plugs += 1
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # before any byte: no echo, no CR/LF translation
        os.set_blocking(master, False)
        self._fd, self._slave = master, slave  # holding the slave keeps master reads from EIO
        self._path = os.ttyname(slave)
        if self._link is not None:
            temporary = self._link.with_name(self._link.name + ".new")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(self._path)
            os.replace(temporary, self._link)
        self.plugs += 1
        logger.info("simulator %s plugged in at %s", self.protocol, self.path)

    def _unplug(self) -> None:
        fd, slave = self._fd, self._slave
        self._fd = self._slave = None
        for handle in (fd, slave):
            if handle is not None:
                os.close(handle)
        if self._attach is None and self._link is not None and fd is not None:
            self._link.unlink(missing_ok=True)
