"""Every vector of thermometer-vectors.json decodes (and encodes) as the research notes state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import minimalmodbus
import pytest

from kiosk.sensors import cjmcu66, gy_mcu90614, lu90614, modbus
from kiosk.sensors.devices import ModbusDevice, Sample

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "thermometer" / "thermometer-vectors.json").read_text()
)
GY = VECTORS["gy_mcu90614"]
LU = VECTORS["lu90614"]
CJ = VECTORS["cjmcu_90614_0x66"]
MB = VECTORS["modbus_rtu_ir_pyrometer"]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize("vector", GY["frames"], ids=lambda v: v["note"])
def test_gy_frame_decodes_and_encodes(vector: dict[str, Any]) -> None:
    parser = gy_mcu90614.GyMcu90614Parser()
    readings = parser.feed(h(vector["hex"]), 1.5)
    assert [(r.object_c, r.ambient_c, r.t) for r in readings] == [
        (vector["object_c"], vector["ambient_c"], 1.5)
    ]
    assert parser.stats.frames == 1 and parser.stats.skipped_bytes == 0
    assert gy_mcu90614.encode_frame(vector["object_c"], vector["ambient_c"]) == h(vector["hex"])


def test_gy_bad_checksum_is_rejected_and_counted() -> None:
    parser = gy_mcu90614.GyMcu90614Parser()
    assert parser.feed(h(GY["bad"][0]["hex"]), 0.0) == []
    assert parser.stats.checksum_errors == 1
    assert parser.stats.frames == 0


def test_gy_incomplete_frame_waits_for_the_rest() -> None:
    parser = gy_mcu90614.GyMcu90614Parser()
    head = h(GY["bad"][1]["hex"])
    assert parser.feed(head, 0.0) == []
    assert parser.stats.checksum_errors == 0 and parser.stats.skipped_bytes == 0
    (reading,) = parser.feed(b"\xc4\x1a", 0.1)  # the missing TA_L and checksum
    assert (reading.object_c, reading.ambient_c) == (36.5, 25.0)


@pytest.mark.parametrize("vector", GY["streams"], ids=lambda v: v["note"])
def test_gy_streams(vector: dict[str, Any]) -> None:
    readings = gy_mcu90614.GyMcu90614Parser().feed(h(vector["hex"]), 0.0)
    assert [[r.object_c, r.ambient_c] for r in readings] == vector["expect"]


def test_gy_commands() -> None:
    commands = GY["commands"]
    assert gy_mcu90614.CONTINUOUS == h(commands["continuous"])
    assert gy_mcu90614.QUERY == h(commands["query"])
    assert gy_mcu90614.BAUD_9600 == h(commands["baud_9600"])
    assert gy_mcu90614.BAUD_115200 == h(commands["baud_115200"])
    assert gy_mcu90614.AUTOSTART_ON == h(commands["autostart_on"])
    assert gy_mcu90614.AUTOSTART_OFF == h(commands["autostart_off"])


@pytest.mark.parametrize("vector", LU["responses"], ids=lambda v: v["note"])
def test_lu_reply_decodes_in_its_mode_only(vector: dict[str, Any]) -> None:
    frame = h(vector["hex"])
    mode: lu90614.Mode = "body" if frame[1] == 0xAC else "object"
    other: lu90614.Mode = "object" if mode == "body" else "body"
    (reading,) = lu90614.Lu90614Parser(mode).feed(frame, 2.0)
    assert (reading.object_c, reading.ambient_c) == (vector["temp_c"], None)
    assert lu90614.encode_reply(vector["temp_c"], mode) == frame
    wrong_mode = lu90614.Lu90614Parser(other)
    assert wrong_mode.feed(frame, 2.0) == []
    assert wrong_mode.stats.frame_errors == 1


def test_lu_commands() -> None:
    assert lu90614.BODY_MODE == h(LU["commands"]["body_mode"])
    assert lu90614.OBJECT_MODE == h(LU["commands"]["object_mode"])
    assert lu90614.MEASURE == h(LU["commands"]["measure"])


@pytest.mark.parametrize("vector", CJ["responses"], ids=lambda v: v["note"])
def test_cjmcu_frame_decodes_in_either_order(vector: dict[str, Any]) -> None:
    frame = h(vector["hex"])
    scope: cjmcu66.ChecksumScope = "frame" if "whole-frame" in vector["note"] else "data"
    other: cjmcu66.ChecksumScope = "data" if scope == "frame" else "frame"
    (first,) = cjmcu66.Cjmcu66Parser("object-ambient", scope).feed(frame, 0.0)
    (swapped,) = cjmcu66.Cjmcu66Parser("ambient-object", scope).feed(frame, 0.0)
    assert (first.object_c, first.ambient_c) == (vector["data1_c"], vector["data2_c"])
    assert (swapped.object_c, swapped.ambient_c) == (vector["data2_c"], vector["data1_c"])
    assert cjmcu66.encode_frame(vector["data1_c"], vector["data2_c"], scope=scope) == frame
    strict = cjmcu66.Cjmcu66Parser("object-ambient", other)
    assert strict.feed(frame, 0.0) == [] and strict.stats.checksum_errors == 1


def test_cjmcu_commands() -> None:
    assert cjmcu66.CONTINUOUS == h(CJ["commands"]["continuous"])
    assert cjmcu66.QUERY == h(CJ["commands"]["query"])


# What each Modbus exchange means, in the order of the file: registers, or the error kind.
MODBUS_EXPECT: list[tuple[int, ...] | str] = [
    (365,),
    (365,),
    (365, 366, 245),
    (0xFFCE,),
    "exception",
    "echo",
    "crc",
    (365,),
]


@pytest.mark.parametrize(
    ("exchange", "expect"), list(zip(MB["exchanges"], MODBUS_EXPECT, strict=True)),
    ids=[e["note"][:40] for e in MB["exchanges"]],
)  # fmt: skip
def test_modbus_exchange(exchange: dict[str, str], expect: tuple[int, ...] | str) -> None:
    request_bytes, reply = h(exchange["request"]), h(exchange["response"])
    (request,) = modbus.RequestParser().feed(request_bytes)
    if request.function == 0x06:
        assert modbus.build_write_request(request.unit, request.address, request.value) == (
            request_bytes
        )
        assert expect == "echo" and reply == request_bytes
        return
    rebuilt = modbus.build_read_request(
        request.unit, request.function, request.address, request.value
    )
    assert rebuilt == request_bytes
    if isinstance(expect, str):
        with pytest.raises(modbus.ModbusReplyError) as caught:
            modbus.parse_read_reply(reply, request.unit, request.function, request.value)
        assert caught.value.kind == expect
        if expect == "exception":
            assert caught.value.code == modbus.EXCEPTION_ILLEGAL_ADDRESS
        return
    regs = modbus.parse_read_reply(reply, request.unit, request.function, request.value)
    assert regs == expect
    assert modbus.encode_read_reply(request.unit, request.function, regs) == reply


def test_modbus_registers_decode_to_the_stated_temperatures() -> None:
    calex = modbus.PRESETS["calex"]
    assert modbus.decode_block(calex, 0x12, (365, 366, 245)) == (36.5, 24.5)
    assert modbus.decode_block(calex, 0x12, (0xFFCE,)) == (-5.0, None)
    unsigned = modbus.RegisterMap(signed=False)
    assert modbus.decode_block(unsigned, 0x12, (0xFFCE,)) == (6548.6, None)
    assert modbus.decode_value([9800], "int16", 0.0001, False) == 0.98  # emissivity 0.9800
    assert calex.reads() == [(0x12, 3)]
    assert modbus.PRESETS["omega"].reads() == [(0x0E, 3)]


def test_modbus_crc_matches_minimalmodbus() -> None:
    for exchange in MB["exchanges"]:
        for frame in (h(exchange["request"]), h(exchange["response"])):
            body = frame[:-2]
            expected = minimalmodbus._calculate_crc(body)  # cross-check against the client library
            assert modbus.crc16(body).to_bytes(2, "little") == expected


def test_simulated_pyrometer_answers_with_the_published_bytes() -> None:
    device = ModbusDevice(modbus.PRESETS["calex"], modbus.EMISSIVITY_REGISTER["calex"])
    sample = Sample(36.5, 24.5)
    device.tick(sample, "none")
    for index in (0, 1, 4, 5, 7):  # FC03, FC04, exception 02, FC06 echo, unit 255
        exchange = MB["exchanges"][index]
        replies = device.receive(h(exchange["request"]), sample, "none")
        assert replies == [h(exchange["response"])], exchange["note"]
