"""The kiosk screen: ``/`` rendered on the server, then ``/events`` pushes each new screen."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, render_template, request
from werkzeug.wrappers import Response

from kiosk.service.status import Screen
from kiosk.web.limiter import client_key
from kiosk.web.present import CONNECTION_LOST, REMINDERS, WAIT, public_screen, screen_view
from kiosk.web.sse import ScreenStream
from kiosk.web.state import WebState

FRAGMENT = "_screen.html"


def register(app: Flask, state: WebState) -> None:
    """Add ``/`` (the page for the attached display) and ``/events`` (its SSE stream)."""
    web = state.config.web

    def fragment(screen: Screen, lang: str) -> str:
        template = app.jinja_env.get_template(FRAGMENT)
        view = screen_view(screen, time.monotonic())
        return template.render(view=view, lang=lang, wait=WAIT, reminders=REMINDERS)

    @app.get("/")
    def kiosk_screen() -> str:
        lang = state.language()
        return render_template(
            "kiosk.html",
            lang=lang,
            screen_html=fragment(state.view.screen(), lang),
            venue_svg=state.venue_svg,
            venue_name=web.venue_name,
            connection_lost=CONNECTION_LOST,
        )

    @app.get("/events")
    def events() -> Response:
        client = client_key(request.remote_addr)
        slot = state.gate.try_open(client, local=state.is_screen(request.remote_addr))
        if slot is None:
            state.counters.add("sse_refused")
            response = Response("too many screen streams\n", status=503, mimetype="text/plain")
            response.headers["Retry-After"] = "5"
            return response
        lang = state.language()

        def payload(screen: Screen) -> dict[str, Any]:
            return {"screen": public_screen(screen), "html": fragment(screen, lang)}

        stream = ScreenStream(
            state.view,
            payload,
            slot,
            state.closing,
            lifetime_s=web.sse_stream_s,
            keepalive_s=web.sse_keepalive_s,
        )
        response = Response(stream, mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must not buffer it
        return response
