"""Modbus RTU for IR pyrometers: CRC, register maps and presets, request/reply frames.

The live link reads registers with minimalmodbus (``modbus_link.py``); this module holds the
pure parts both sides share: decoding registers into temperatures, and the device side of the
wire (request parser, reply encoder) for the simulator. ``parse_read_reply`` is the reference
decoder of reply bytes, checked against the published vectors.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from kiosk.config import ThermometerSection
from kiosk.sensors.base import ParserStats

DType = Literal["int16", "float32_be", "float32_ws"]

EXCEPTION_ILLEGAL_FUNCTION = 0x01
EXCEPTION_ILLEGAL_ADDRESS = 0x02
EXCEPTION_DEVICE_FAILURE = 0x04
BLOCK_MAX = 8  # read object and ambient in one request when they are this close


def crc16(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001; sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


def crc_ok(frame: bytes | bytearray) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


@dataclass(frozen=True)
class RegisterMap:
    """Where a pyrometer keeps its temperatures and how to read them."""

    unit: int = 1
    function: int = 3
    object_register: int = 0x12
    ambient_register: int | None = 0x14
    scale: float = 0.1  # °C per count (int16); float32 registers hold °C when scale is 1
    signed: bool = True
    dtype: DType = "int16"

    @property
    def width(self) -> int:
        return 1 if self.dtype == "int16" else 2

    def reads(self) -> list[tuple[int, int]]:
        """(start, count) of the requests that fetch object and ambient: one block if close."""
        obj = self.object_register
        amb = self.ambient_register
        if amb is None:
            return [(obj, self.width)]
        start = min(obj, amb)
        count = max(obj, amb) + self.width - start
        if count <= BLOCK_MAX:
            return [(start, count)]
        return [(obj, self.width), (amb, self.width)]


#: Calex PyroUSB: 0x12 filtered object, 0x14 sensor temperature, 0x08 emissivity (0.0001/LSB).
#: Omega OS-MINI: the same design one register lower: 0x0E, 0x10, 0x07.
PRESETS = {
    "calex": RegisterMap(object_register=0x12, ambient_register=0x14),
    "omega": RegisterMap(object_register=0x0E, ambient_register=0x10),
}
EMISSIVITY_REGISTER = {"calex": 0x08, "omega": 0x07}


def register_map(section: ThermometerSection) -> RegisterMap:
    """The preset named in the config with every explicitly set ``modbus_*`` key applied."""
    base = PRESETS.get(section.modbus_preset, RegisterMap())
    if section.modbus_preset == "custom":
        base = replace(base, ambient_register=None)
    if section.modbus_dtype not in (None, "int16"):
        base = replace(base, scale=1.0)  # float registers hold °C unless a scale is set
    overrides: dict[str, Any] = {
        "unit": section.modbus_unit,
        "function": section.modbus_function,
        "object_register": section.modbus_object_register,
        "ambient_register": section.modbus_ambient_register,
        "scale": section.modbus_scale,
        "signed": section.modbus_signed,
        "dtype": section.modbus_dtype,
    }
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def decode_value(regs: Sequence[int], dtype: DType, scale: float, signed: bool) -> float | None:
    """One temperature from its register(s); ``None`` for NaN or infinity (a sensor fault)."""
    if dtype == "int16":
        raw = regs[0] - 0x10000 if signed and regs[0] & 0x8000 else regs[0]
        return round(raw * scale, 6)
    hi, lo = (regs[0], regs[1]) if dtype == "float32_be" else (regs[1], regs[0])
    (value,) = struct.unpack(">f", struct.pack(">HH", hi, lo))
    return round(value * scale, 6) if math.isfinite(value) else None


def decode_block(
    regmap: RegisterMap, start: int, regs: Sequence[int]
) -> tuple[float | None, float | None]:
    """Object and ambient from registers read from ``start``; ``None`` where not covered."""

    def pick(address: int | None) -> float | None:
        if address is None:
            return None
        offset = address - start
        if offset < 0 or offset + regmap.width > len(regs):
            return None
        chunk = regs[offset : offset + regmap.width]
        return decode_value(chunk, regmap.dtype, regmap.scale, regmap.signed)

    return pick(regmap.object_register), pick(regmap.ambient_register)


def encode_value(value_c: float, dtype: DType, scale: float) -> list[int]:
    """The register word(s) a device holds for ``value_c`` (the simulator's side)."""
    if dtype == "int16":
        return [round(value_c / scale) & 0xFFFF]
    hi, lo = struct.unpack(">HH", struct.pack(">f", value_c / scale))
    return [hi, lo] if dtype == "float32_be" else [lo, hi]


class ModbusReplyError(ValueError):
    """A reply that yields no registers; ``kind`` is ``crc``, ``exception`` or ``frame``."""

    def __init__(self, kind: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


def build_read_request(unit: int, function: int, start: int, count: int) -> bytes:
    return with_crc(struct.pack(">BBHH", unit, function, start, count))


def build_write_request(unit: int, register: int, value: int) -> bytes:
    return with_crc(struct.pack(">BBHH", unit, 0x06, register, value))


def parse_read_reply(frame: bytes, unit: int, function: int, count: int) -> tuple[int, ...]:
    """Registers from a complete FC03/04 reply, or ``ModbusReplyError`` saying what is wrong."""
    if len(frame) == 5 and frame[1] == function | 0x80:
        if not crc_ok(frame):
            raise ModbusReplyError("crc", "exception reply with a bad CRC")
        raise ModbusReplyError("exception", f"device exception {frame[2]:02X}", code=frame[2])
    if len(frame) != 5 + 2 * count:
        raise ModbusReplyError("frame", f"expected {5 + 2 * count} bytes, got {len(frame)}")
    if not crc_ok(frame):
        raise ModbusReplyError("crc", "bad CRC")
    if frame[0] != unit or frame[1] != function or frame[2] != 2 * count:
        raise ModbusReplyError("frame", "reply does not match the request")
    return struct.unpack_from(f">{count}H", frame, 3)


@dataclass(frozen=True)
class Request:
    """A request as a device sees it: FC03/04 ``value`` = count, FC06 ``value`` = the word."""

    unit: int
    function: int
    address: int
    value: int
    raw: bytes


class RequestParser:
    """Device side: 8-byte FC03/04/06 requests from a stream, CRC-checked, resync by one byte."""

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Request]:
        buf = self._buf
        buf += data
        requests = []
        while len(buf) >= 8:
            if buf[1] in (0x03, 0x04, 0x06) and crc_ok(buf[:8]):
                unit, function, address, value = struct.unpack_from(">BBHH", buf)
                requests.append(Request(unit, function, address, value, bytes(buf[:8])))
                self.stats.frames += 1
                del buf[:8]
                continue
            if buf[1] in (0x03, 0x04, 0x06):
                self.stats.checksum_errors += 1
            self.stats.skipped_bytes += 1
            del buf[:1]
        return requests


def encode_read_reply(unit: int, function: int, regs: Sequence[int]) -> bytes:
    body = struct.pack(f">BBB{len(regs)}H", unit, function, 2 * len(regs), *regs)
    return with_crc(body)


def encode_exception(unit: int, function: int, code: int) -> bytes:
    return with_crc(bytes((unit, function | 0x80, code)))
