"""Simulated thermometer modules: what each protocol's device sends for a sample or a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kiosk.sensors import cjmcu66, gy_mcu90614, lu90614, modbus
from kiosk.sensors.ascii_lines import Style, encode_line
from kiosk.sensors.framing import CommandScanner
from kiosk.sensors.scenarios import Fault

SILENT: tuple[Fault, ...] = ("silence", "no_reply")


@dataclass(frozen=True)
class Sample:
    object_c: float
    ambient_c: float


class Device(Protocol):
    """One simulated module. ``tick`` is called at the module's frame rate (streaming modules
    answer with a frame), ``receive`` with bytes from the host (returns the replies)."""

    def tick(self, sample: Sample, fault: Fault) -> bytes | None: ...

    def receive(self, data: bytes, sample: Sample, fault: Fault) -> list[bytes]: ...


class _Alternating:
    """Applies a fault to every second frame, so readings keep flowing between bad ones."""

    def __init__(self) -> None:
        self._count = 0

    def hit(self) -> bool:
        self._count += 1
        return self._count % 2 == 0


def _flip_last(frame: bytes) -> bytes:
    return frame[:-1] + bytes((frame[-1] ^ 0x5A,))


class GyDevice(_Alternating):
    """GY-MCU90614: streams on power-up; ``A5 15 BA`` switches to query mode and answers once."""

    def __init__(self) -> None:
        super().__init__()
        self.streaming = True
        self._commands = CommandScanner(gy_mcu90614.COMMAND_LEAD)

    def _frame(self, sample: Sample, fault: Fault) -> bytes:
        frame = gy_mcu90614.encode_frame(sample.object_c, sample.ambient_c)
        return _flip_last(frame) if fault == "bad_checksum" and self.hit() else frame

    def tick(self, sample: Sample, fault: Fault) -> bytes | None:
        return self._frame(sample, fault) if self.streaming else None

    def receive(self, data: bytes, sample: Sample, fault: Fault) -> list[bytes]:
        replies = []
        for code in self._commands.feed(data):
            if code == gy_mcu90614.CONTINUOUS[1]:
                self.streaming = True
            elif code == gy_mcu90614.QUERY[1]:
                self.streaming = False
                if fault not in SILENT:
                    replies.append(self._frame(sample, fault))
        return replies


class LuDevice(_Alternating):
    """LU90614: answers ``FA CA C4`` in the mode last set (the body mode is not modelled:
    it reports the object value). No ambient value exists on this module."""

    def __init__(self) -> None:
        super().__init__()
        self.mode: lu90614.Mode = "body"  # the module's factory setting
        self._commands = CommandScanner(lu90614.COMMAND_LEAD)

    def tick(self, sample: Sample, fault: Fault) -> bytes | None:
        return None

    def receive(self, data: bytes, sample: Sample, fault: Fault) -> list[bytes]:
        replies = []
        for code in self._commands.feed(data):
            if code == lu90614.BODY_MODE[1]:
                self.mode = "body"
            elif code == lu90614.OBJECT_MODE[1]:
                self.mode = "object"
            elif code == lu90614.MEASURE[1] and fault not in SILENT:
                reply = lu90614.encode_reply(min(max(sample.object_c, 0.0), 150.0), self.mode)
                bad = fault == "bad_checksum" and self.hit()
                replies.append(_flip_last(reply) if bad else reply)
        return replies


class StreamDevice(_Alternating):
    """Modules that only stream: an ASCII bridge (``style``) or a CJMCU-90614."""

    def __init__(self, kind: str, style: Style = "canonical") -> None:
        super().__init__()
        self._kind = kind
        self._style = style

    def tick(self, sample: Sample, fault: Fault) -> bytes | None:
        bad = fault == "bad_checksum" and self.hit()
        if self._kind == "ascii":
            # text has no checksum: a damaged line is one whose values cannot be read
            return b"TO=??.??,TA=??.??\r\n" if bad else encode_line(
                sample.object_c, sample.ambient_c, self._style
            )  # fmt: skip
        frame = cjmcu66.encode_frame(sample.object_c, sample.ambient_c)
        return _flip_last(frame) if bad else frame

    def receive(self, data: bytes, sample: Sample, fault: Fault) -> list[bytes]:
        return []


class ModbusDevice(_Alternating):
    """A Modbus RTU pyrometer with ``regmap``'s registers (plus emissivity for a preset);
    answers its unit and 255, reports exception 02 for unknown registers."""

    def __init__(self, regmap: modbus.RegisterMap, emissivity_register: int | None = None) -> None:
        super().__init__()
        self._map = regmap
        self._parser = modbus.RequestParser()
        self._bank: dict[int, int] = {}
        self._writable: set[int] = set()
        if emissivity_register is not None:
            self._bank[emissivity_register] = 9500
            self._writable.add(emissivity_register)

    def tick(self, sample: Sample, fault: Fault) -> bytes | None:
        m = self._map
        if m.ambient_register is not None:  # between them: the unfiltered object temperature
            low, high = sorted((m.object_register, m.ambient_register))
            for between in range(low + m.width, high):
                self._bank[between] = modbus.encode_value(sample.object_c, "int16", m.scale)[0]
        values: list[tuple[int | None, float]] = [
            (m.object_register, sample.object_c),
            (m.ambient_register, sample.ambient_c),
        ]
        for address, value_c in values:
            if address is not None:
                for i, word in enumerate(modbus.encode_value(value_c, m.dtype, m.scale)):
                    self._bank[address + i] = word
        return None

    def receive(self, data: bytes, sample: Sample, fault: Fault) -> list[bytes]:
        replies = []
        for request in self._parser.feed(data):
            if request.unit not in (self._map.unit, 255) or fault in SILENT:
                continue
            reply = self._answer(request, fault)
            bad = fault == "bad_checksum" and self.hit()
            replies.append(_flip_last(reply) if bad else reply)
        return replies

    def _answer(self, request: modbus.Request, fault: Fault) -> bytes:
        unit, function = request.unit, request.function
        if fault == "exception" and self.hit():
            return modbus.encode_exception(unit, function, modbus.EXCEPTION_DEVICE_FAILURE)
        if function == 0x06:
            if request.address not in self._writable:
                return modbus.encode_exception(unit, function, modbus.EXCEPTION_ILLEGAL_ADDRESS)
            self._bank[request.address] = request.value
            return request.raw
        addresses = range(request.address, request.address + request.value)
        if request.value < 1 or any(a not in self._bank for a in addresses):
            return modbus.encode_exception(unit, function, modbus.EXCEPTION_ILLEGAL_ADDRESS)
        return modbus.encode_read_reply(unit, function, [self._bank[a] for a in addresses])
