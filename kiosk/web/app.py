"""The web app factory: one Flask app per call, wired to a status view, a ledger and config."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from kiosk import __version__
from kiosk.config import Config, read_secret
from kiosk.service.status import StatusView
from kiosk.storage import StorageError
from kiosk.web import auth, ops, screen, staff
from kiosk.web.limiter import LoginLimiter
from kiosk.web.present import Bi
from kiosk.web.sessions import StaffSessions
from kiosk.web.sse import StreamGate
from kiosk.web.state import EXTENSION, WebState

logger = logging.getLogger(__name__)

#: No script, style, font or image from anywhere but this server; no framing.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

#: Texts of the error page, by the ``description`` the routes abort with.
ERRORS = {
    "csrf": Bi(
        "表单已过期，请刷新页面后重试", "The form has expired: reload the page and try again"
    ),
    "date": Bi("日期格式应为 YYYY-MM-DD", "Dates must look like YYYY-MM-DD"),
    "range": Bi("结束日期早于开始日期", "The end date is before the start date"),
    "span": Bi("一次最多导出 400 天", "At most 400 days can be exported at once"),
    "format": Bi("导出格式只能是 CSV 或 XLSX", "The export format must be CSV or XLSX"),
}


def _session_secret(config: Config) -> bytes:
    web = config.web
    secret = read_secret(
        "web.session_secret", web.session_secret_file, web.session_secret_credential
    )
    if secret:
        return secret.encode()
    logger.info("no web.session_secret_file: staff sessions end when the service restarts")
    return secrets.token_bytes(32)


def _venue_svg(text: str | None) -> Markup | None:
    if not text:
        return None
    import segno  # pure Python; only needed when a venue code is configured

    svg = segno.make_qr(text, error="m").svg_inline(scale=4, border=2, omitsize=True)
    return Markup(svg)  # noqa: S704 - segno escapes nothing we did not generate


@pass_context
def _bi(ctx: Context, text: Bi, tag: str = "span") -> Markup:
    """Both languages, the page's language first; each marked with its ``lang``."""
    first, second = (("zh-CN", text.zh), ("en", text.en))
    if ctx.get("lang") == "en":
        first, second = second, first
    one = Markup('<{0} class="{1}" lang="{2}">{3}</{0}>')
    return one.format(tag, "l1", *first) + one.format(tag, "l2", *second)


@pass_context
def _tr(ctx: Context, zh: str, en: str, tag: str = "span") -> Markup:
    result: Markup = _bi(ctx, Bi(zh, en), tag)
    return result


def create_app(view: StatusView, ledger_path: Path, config: Config) -> Flask:
    """A new Flask app: kiosk screen, staff page, ``/healthz``, ``/api/status``, ``/metrics``.

    Routes only read ``view`` and open the ledger per request (read-only use); nothing here
    touches a device. Raises ``ConfigError`` if the session secret file cannot be read.
    """
    web = config.web
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=_session_secret(config),
        SESSION_COOKIE_NAME="kiosk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=web.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=web.session_minutes),
        MAX_CONTENT_LENGTH=16 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=300,
    )
    state = WebState(
        view=view,
        ledger_path=ledger_path,
        config=config,
        venue_svg=_venue_svg(web.venue_code),
        gate=StreamGate(web.sse_max_streams, per_client=web.sse_streams_per_client),
        limiter=LoginLimiter(web.login_attempts, web.login_window_s),
        sessions=StaffSessions(web.session_minutes * 60),
    )
    app.extensions[EXTENSION] = state
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # readable Chinese in JSON
    app.jinja_env.globals.update(bi=_bi, tr=_tr, csrf_token=auth.csrf_token, version=__version__)

    app.before_request(auth.check_csrf)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith("/staff"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(StorageError)
    def storage_failed(exc: StorageError) -> tuple[str, int]:
        state.counters.add("ledger_errors")
        logger.error("web: %s", exc)
        text = Bi("台账无法读取", "The ledger cannot be read")
        return _error_page(state, text, str(exc)), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400 or request.path in ("/events", "/metrics"):
            return exc
        text = ERRORS.get(exc.description or "") or Bi(exc.name, exc.name)
        return _error_page(state, text, None), exc.code

    for part in (screen, auth, staff, ops):
        part.register(app, state)
    return app


def _error_page(state: WebState, text: Bi, detail: str | None) -> str:
    return render_template("error.html", lang=state.language(), text=text, detail=detail)
