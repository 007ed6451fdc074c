"""Build the parser and the link for the configured protocol (the one place that knows them all)."""

from __future__ import annotations

from kiosk.config import ThermometerSection
from kiosk.sensors import cjmcu66, gy_mcu90614, lu90614
from kiosk.sensors.ascii_lines import AsciiLineParser
from kiosk.sensors.base import Link, StreamParser
from kiosk.sensors.modbus import register_map
from kiosk.sensors.modbus_link import ModbusLink
from kiosk.sensors.serial_link import SerialStreamLink


def stream_parser(section: ThermometerSection) -> StreamParser:
    """The byte-stream parser for ``section.protocol`` (not for Modbus, which polls registers)."""
    if section.protocol == "gy-mcu90614":
        return gy_mcu90614.GyMcu90614Parser()
    if section.protocol == "lu90614":
        return lu90614.Lu90614Parser(section.lu_mode)
    if section.protocol == "cjmcu66":
        return cjmcu66.Cjmcu66Parser(section.cjmcu_order, section.cjmcu_checksum)
    if section.protocol == "ascii":
        return AsciiLineParser()
    raise ValueError(f"{section.protocol} is not a byte-stream protocol")


def commands(section: ThermometerSection) -> tuple[list[bytes], bytes | None]:
    """(commands sent after opening the port, command sent every poll or ``None``)."""
    if section.protocol == "gy-mcu90614":
        if section.gy_mode == "query":
            return [], gy_mcu90614.QUERY
        return [gy_mcu90614.CONTINUOUS], None
    if section.protocol == "lu90614":
        mode = lu90614.BODY_MODE if section.lu_mode == "body" else lu90614.OBJECT_MODE
        return [mode], lu90614.MEASURE
    if section.protocol == "cjmcu66":
        return [cjmcu66.CONTINUOUS], None
    return [], None


def make_link(section: ThermometerSection) -> Link:
    """The link for the configured thermometer; no I/O until ``open()``."""
    if section.protocol == "modbus":
        return ModbusLink(
            section.port,
            section.baud,
            register_map(section),
            poll_interval_s=section.poll_interval_s,
            timeout_s=section.modbus_timeout_s,
        )
    init, poll = commands(section)
    return SerialStreamLink(
        section.port,
        section.baud,
        stream_parser(section),
        init_commands=init,
        poll=poll,
        poll_interval_s=section.poll_interval_s,
    )
