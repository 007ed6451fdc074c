"""Config: the door relay, buzzer and LEDs driven on each decision (``[gate]``)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from kiosk.confload import setting

#: BCM numbers of the 40-pin header's GPIOs (0 and 1 are the HAT ID EEPROM's: left out).
PIN_MIN, PIN_MAX = 2, 27

_PIN_KEYS = ("relay_pin", "buzzer_pin", "led_pass_pin", "led_deny_pin", "led_refer_pin")


@dataclass(frozen=True)
class GateSection:
    """Which GPIOs drive the door relay, the buzzer and the three LEDs; every one is optional.

    Pins are BCM numbers (GPIO17 = 17). The relay closes only on PASS, for ``relay_pulse_s``.
    """

    relay_pin: int | None = setting(
        None, doc="BCM pin of the door relay (pulsed on PASS only); unset = no relay",
        min=PIN_MIN, max=PIN_MAX,
    )  # fmt: skip
    relay_active_high: bool = setting(
        True, doc="false for relay boards that switch on a low input (most opto boards)"
    )
    relay_pulse_s: float = setting(
        1.0, doc="how long the relay stays closed on PASS", min=0.1, max=10.0
    )
    buzzer_pin: int | None = setting(
        None, doc="BCM pin of an active buzzer; unset = silent", min=PIN_MIN, max=PIN_MAX
    )
    buzzer_active_high: bool = setting(True, doc="false for a buzzer module driven low")
    led_pass_pin: int | None = setting(
        None, doc="BCM pin of the green LED (PASS)", min=PIN_MIN, max=PIN_MAX
    )
    led_deny_pin: int | None = setting(
        None, doc="BCM pin of the red LED (DENY)", min=PIN_MIN, max=PIN_MAX
    )
    led_refer_pin: int | None = setting(
        None, doc="BCM pin of the yellow LED (SEE STAFF)", min=PIN_MIN, max=PIN_MAX
    )
    leds_active_high: bool = setting(True, doc="false for LEDs wired to 3.3 V (lit when low)")
    led_s: float = setting(3.0, doc="how long an outcome's LED stays lit", min=0.5, max=30.0)

    def __post_init__(self) -> None:
        used: dict[int, str] = {}
        for key in _PIN_KEYS:
            pin = getattr(self, key)
            if pin is None:
                continue
            if pin in used:
                raise ValueError(f"gate.{key} and gate.{used[pin]} both use GPIO{pin}")
            used[pin] = key

    def pins(self) -> dict[str, int]:
        """The configured outputs by role (``relay``, ``buzzer``, ``led_pass`` ...)."""
        roles = {f.name: getattr(self, f.name) for f in fields(self) if f.name in _PIN_KEYS}
        return {key.removesuffix("_pin"): pin for key, pin in roles.items() if pin is not None}
