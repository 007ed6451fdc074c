"""Random and mutated byte streams never crash a parser nor pass a frame with a bad checksum."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.model import Reading
from kiosk.sensors import cjmcu66, gy_mcu90614, lu90614, modbus
from kiosk.sensors.ascii_lines import AsciiLineParser, encode_line
from kiosk.sensors.base import StreamParser
from kiosk.sensors.framing import sum8

PARSERS = {
    "gy": gy_mcu90614.GyMcu90614Parser,
    "lu-object": lambda: lu90614.Lu90614Parser("object"),
    "lu-body": lambda: lu90614.Lu90614Parser("body"),
    "cjmcu": cjmcu66.Cjmcu66Parser,
    "ascii": AsciiLineParser,
}

temps = st.floats(min_value=-40.0, max_value=120.0, allow_nan=False).map(lambda x: round(x, 2))
body_temps = st.floats(min_value=0.0, max_value=150.0, allow_nan=False).map(lambda x: round(x, 2))
cuts = st.lists(st.integers(min_value=0, max_value=400), max_size=12)


def chunks(data: bytes, at: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(a % (len(data) + 1) for a in at)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def feed_all(parser: StreamParser, pieces: list[bytes]) -> list[Reading]:
    out: list[Reading] = []
    for i, piece in enumerate(pieces):
        out += parser.feed(piece, float(i))
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), at=cuts, name=st.sampled_from(sorted(PARSERS)))
def test_random_bytes_never_crash_and_yield_only_sane_values(
    data: bytes, at: list[int], name: str
) -> None:
    parser = PARSERS[name]()
    for reading in feed_all(parser, chunks(data, at)):
        assert math.isfinite(reading.object_c) and -70.0 <= reading.object_c <= 380.0
        assert reading.ambient_c is None or -40.0 <= reading.ambient_c <= 125.0
    stats = parser.stats
    assert min(stats.frames, stats.checksum_errors, stats.frame_errors, stats.skipped_bytes) >= 0


def reference_gy(data: bytes) -> list[tuple[float, float]]:
    """A plain scan: a frame at i is taken if valid, else move on by one byte; a plausible
    header whose frame is not complete yet waits (a stream cannot know what comes next)."""
    found, i = [], 0
    while i + 4 <= len(data):
        length = data[i + 3]
        end = i + 5 + length
        header = data[i : i + 2] == b"\x5a\x5a" and length <= 32
        if header and end > len(data):
            break
        if header and sum8(data[i : end - 1]) == data[end - 1]:
            if data[i + 2] == 0x45 and length == 4:
                obj = int.from_bytes(data[i + 4 : i + 6], "big", signed=True) / 100
                amb = int.from_bytes(data[i + 6 : i + 8], "big", signed=True) / 100
                if -70 <= obj <= 380 and -40 <= amb <= 125:
                    found.append((obj, amb))
            i = end
        else:
            i += 1
    return found


piece = st.one_of(
    st.tuples(temps, temps).map(lambda v: gy_mcu90614.encode_frame(*v)),
    st.tuples(temps, temps).map(lambda v: gy_mcu90614.encode_frame(*v)[:-1] + b"\x00"),
    st.binary(max_size=12),
    st.sampled_from([b"\x5a", b"\x5a\x5a", b"\x5a\x5a\x45", b"\x5a\x5a\x45\x04"]),
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(piece, max_size=12), at=cuts)
def test_gy_stream_matches_a_reference_scan_however_it_is_split(
    parts: list[bytes], at: list[int]
) -> None:
    stream = b"".join(parts)
    readings = feed_all(gy_mcu90614.GyMcu90614Parser(), chunks(stream, at))
    assert [(r.object_c, r.ambient_c) for r in readings] == reference_gy(stream)


def one_byte_changed(frame: bytes, index: int, delta: int) -> bytes:
    i = index % len(frame)
    return frame[:i] + bytes(((frame[i] + delta) & 0xFF,)) + frame[i + 1 :]


deltas = st.integers(min_value=1, max_value=255)


@given(obj=temps, amb=temps, index=st.integers(min_value=0), delta=deltas)
def test_gy_frame_with_one_byte_changed_never_yields(
    obj: float, amb: float, index: int, delta: int
) -> None:
    bad = one_byte_changed(gy_mcu90614.encode_frame(obj, amb), index, delta)
    assert gy_mcu90614.GyMcu90614Parser().feed(bad, 0.0) == []


@given(value=body_temps, mode=st.sampled_from(["object", "body"]), index=st.integers(0), d=deltas)
def test_lu_reply_with_one_byte_changed_never_yields(
    value: float, mode: lu90614.Mode, index: int, d: int
) -> None:
    bad = one_byte_changed(lu90614.encode_reply(value, mode), index, d)
    assert lu90614.Lu90614Parser(mode).feed(bad, 0.0) == []


@given(
    first=st.floats(0, 600).map(lambda x: round(x, 2)),
    second=st.floats(0, 600).map(lambda x: round(x, 2)),
    scope=st.sampled_from(["data", "frame"]),
    index=st.integers(min_value=0),
    delta=deltas,
)
def test_cjmcu_frame_with_one_byte_changed_never_yields(
    first: float, second: float, scope: cjmcu66.ChecksumScope, index: int, delta: int
) -> None:
    frame = cjmcu66.encode_frame(first, second, scope=scope)
    if scope == "data" and index % 9 in (2, 3):
        return  # mode and length bytes: outside a data-byte checksum by definition
    bad = one_byte_changed(frame, index, delta)
    assert cjmcu66.Cjmcu66Parser(scope=scope).feed(bad, 0.0) == []


@given(
    regs=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=8),
    index=st.integers(min_value=0),
    delta=deltas,
)
def test_modbus_reply_with_one_byte_changed_never_yields(
    regs: list[int], index: int, delta: int
) -> None:
    reply = modbus.encode_read_reply(1, 3, regs)
    assert modbus.parse_read_reply(reply, 1, 3, len(regs)) == tuple(regs)
    bad = one_byte_changed(reply, index, delta)
    try:
        modbus.parse_read_reply(bad, 1, 3, len(regs))
    except modbus.ModbusReplyError:
        return
    raise AssertionError(f"accepted a corrupted reply {bad.hex(' ')}")


@settings(max_examples=300)
@given(data=st.binary(max_size=64), count=st.integers(1, 8))
def test_modbus_random_reply_is_accepted_only_with_a_valid_crc(data: bytes, count: int) -> None:
    try:
        regs = modbus.parse_read_reply(data, 1, 3, count)
    except modbus.ModbusReplyError:
        return
    assert modbus.crc_ok(data) and len(regs) == count


@settings(max_examples=300)
@given(parts=st.lists(st.binary(max_size=16), max_size=8), at=cuts)
def test_modbus_request_parser_takes_only_crc_checked_requests(
    parts: list[bytes], at: list[int]
) -> None:
    good = modbus.build_read_request(1, 3, 0x12, 3)
    stream = b"".join(p + good for p in parts)
    parser = modbus.RequestParser()
    requests = [r for piece in chunks(stream, at) for r in parser.feed(piece)]
    assert all(modbus.crc_ok(r.raw) and len(r.raw) == 8 for r in requests)
    assert sum(r.raw == good for r in requests) >= 1 if parts else requests == []


@given(
    values=st.lists(st.tuples(temps, temps), min_size=1, max_size=6),
    style=st.sampled_from(["canonical", "adafruit"]),
    at=cuts,
)
def test_ascii_lines_round_trip_however_split(
    values: list[tuple[float, float]], style: str, at: list[int]
) -> None:
    stream = b"".join(encode_line(o, a, style) for o, a in values)  # type: ignore[arg-type]
    readings = feed_all(AsciiLineParser(), chunks(stream, at))
    assert [(r.object_c, r.ambient_c) for r in readings] == values
