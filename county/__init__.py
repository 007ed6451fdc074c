"""checkpoint-county: receives every kiosk's feed, stores it once, tells kiosks what is missing."""

from kiosk import __version__

__all__ = ["__version__"]
