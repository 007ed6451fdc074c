"""The [thermometer] config section: defaults, limits, errors naming the key, register maps."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.config import ConfigError, parse
from kiosk.sensors.modbus import RegisterMap, register_map


def thermometer(**keys: Any) -> Any:
    return parse({"thermometer": keys}, source="kiosk.toml").thermometer


def test_defaults_follow_the_screening_practice() -> None:
    s = thermometer()
    assert (s.protocol, s.baud, s.silence_s) == ("gy-mcu90614", 9600, 2.0)
    assert (s.presence_delta_c, s.presence_min_c, s.presence_max_c) == (2.0, 30.0, 43.0)
    assert (s.stable_samples, s.stable_spread_c) == (5, 0.3)
    assert (s.ambient_min_c, s.ambient_max_c, s.offset_c) == (16.0, 40.0, 0.0)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"baud": 9601}, "thermometer.baud: expected a standard baud rate"),
        ({"protocol": "tn901"}, 'thermometer.protocol: expected one of "gy-mcu90614"'),
        ({"modbus_function": 6}, "thermometer.modbus_function: expected 3 or 4, got 6"),
        ({"stable_samples": 1}, "thermometer.stable_samples: expected an integer 2-50, got 1"),
        ({"offset_c": "0.5"}, 'thermometer.offset_c: expected a number -3-5, got "0.5"'),
        ({"prot": "ascii"}, 'thermometer.prot: unknown key; did you mean "port"?'),
        ({"modbus_preset": "custom"}, "modbus_object_register is required"),
        ({"presence_min_c": 40.0, "presence_max_c": 39.0}, "presence_min_c must be below"),
        ({"reconnect_min_s": 9.0, "reconnect_max_s": 1.0}, "reconnect_min_s must not exceed"),
    ],
)
def test_bad_values_name_the_key_and_file(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        thermometer(**keys)
    assert message in str(caught.value)
    assert "(kiosk.toml)" in str(caught.value)


def test_environment_overrides_reach_the_section() -> None:
    env = {"KIOSK_THERMOMETER__PORT": "/dev/ttyAMA0", "KIOSK_THERMOMETER__OFFSET_C": "0.4"}
    s = parse({}, environ=env).thermometer
    assert (s.port, s.offset_c) == ("/dev/ttyAMA0", 0.4)


def test_register_maps_from_presets_and_overrides() -> None:
    calex = register_map(thermometer(protocol="modbus"))
    assert calex == RegisterMap(unit=1, function=3, object_register=0x12, ambient_register=0x14)
    omega = register_map(thermometer(modbus_preset="omega", modbus_function=4, modbus_unit=255))
    assert (omega.object_register, omega.ambient_register) == (0x0E, 0x10)
    assert (omega.function, omega.unit) == (4, 255)
    custom = register_map(
        thermometer(modbus_preset="custom", modbus_object_register=0, modbus_dtype="float32_ws")
    )
    assert custom.ambient_register is None and custom.scale == 1.0 and custom.width == 2
    assert custom.reads() == [(0, 2)]
    far = register_map(thermometer(modbus_object_register=0x00, modbus_ambient_register=0x40))
    assert far.reads() == [(0x00, 1), (0x40, 1)]
