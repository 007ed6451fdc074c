"""checkpoint-kiosk: unattended entrance kiosk for health codes and temperature screening."""

__version__ = "0.1.0"
