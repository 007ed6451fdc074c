"""The county desk (Flask): the app factory, security headers and error pages.

Same bar as the kiosk's staff page: werkzeug password hashes, a signed ``HttpOnly``,
``SameSite=Strict``, ``Secure`` cookie naming a session the server holds (logout ends it for
every copy), a CSRF token on every POST, a login limit per client address counted before
the password check, a strict CSP, bodies capped before they are read.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, g, render_template, request
from werkzeug.wrappers import Response

from county.config import Config, read_secret
from county.desk.db import DeskDb
from county.store import StoreError
from county.trace import CountyKeys
from county.web import auth, events, revoke, views
from county.web.auth import DeskSessions, DeskState, bilingual, lang, requires
from kiosk.web.auth import check_csrf, csrf_token
from kiosk.web.limiter import LoginLimiter
from kiosk.web.sse import StreamGate

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_BODY = 16 * 1024


def _secret(config: Config) -> bytes:
    d = config.desk
    text = read_secret("desk.session_secret", d.session_secret_file, d.session_secret_credential)
    return text.encode() if text else secrets.token_bytes(32)


def create_app(
    config: Config, db: DeskDb, keys: CountyKeys, health: Callable[[], dict[str, Any]] | None = None
) -> Flask:
    """A new desk app. Reads the session secret; touches the database only per request."""
    desk = config.desk
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=_secret(config),
        SESSION_COOKIE_NAME="county_desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=desk.cookie_secure,
        PERMANENT_SESSION_LIFETIME=desk.session_minutes * 60,
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
    )
    state = DeskState(
        config=config,
        db=db,
        keys=keys,
        limiter=LoginLimiter(desk.login_attempts, desk.login_window_s),
        sessions=DeskSessions(desk.session_minutes * 60.0),
        streams=StreamGate(
            desk.sse_max_streams, per_client=desk.sse_streams_per_client, reserved=0
        ),
    )
    if health is not None:
        state.health = health
    app.extensions["county_desk"] = state

    @app.before_request
    def before() -> None:
        g.default_lang = desk.language
        check_csrf()

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith("/static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def common() -> dict[str, Any]:
        return {"lang": lang(), "csrf_token": csrf_token, "user": g.get("user"), "t": bilingual}

    @app.errorhandler(StoreError)
    def store_failed(exc: StoreError) -> tuple[str, int]:
        logger.error("desk: %s", exc)
        return render_template("error.html", zh="数据库暂不可用", en="Database unavailable"), 503

    @app.errorhandler(403)
    def forbidden(_exc: Exception) -> tuple[str, int]:
        return render_template("error.html", zh="无权限", en="Not allowed for your role"), 403

    auth.register(app, state)
    views.register(app, state)
    events.register(app, state)
    revoke.register(app, state, requires)
    return app
