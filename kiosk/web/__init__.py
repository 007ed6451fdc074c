"""The kiosk's web pages: the kiosk screen, the staff page and health endpoints (Flask)."""

from kiosk.web.app import create_app
from kiosk.web.server import WebServer

__all__ = ["WebServer", "create_app"]
