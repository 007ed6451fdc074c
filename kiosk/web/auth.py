"""Staff login: password hash check, signed session cookie, CSRF tokens and the rate limit."""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from kiosk.web.present import Bi
from kiosk.web.state import WebState

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def csrf_token() -> str:
    """The session's CSRF token, made on first use; every POST form carries it."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse any POST whose form token does not match the session's (400)."""
    if request.method != "POST":
        return
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")


def is_staff(state: WebState) -> bool:
    """A live staff session: signed cookie, current password and a session the server still
    holds. A cookie that claims staff but fails is emptied, so it is not signed again."""
    if session.get("staff") is not True:
        return False
    generation = state.password_generation
    if (
        generation is not None
        and session.get("gen") == generation
        and state.sessions.touch(session.get("sid"), time.monotonic())
    ):
        return True
    session.clear()
    return False


def staff_required(state: WebState) -> Callable[[F], F]:
    """Decorator: the view runs only for a logged-in staff session, else → login page."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not is_staff(state):
                target = url_for("login", next=request.full_path.rstrip("?"))
                return redirect(target, code=303)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def _cookie_warning(state: WebState) -> Bi | None:
    """Browsers drop a Secure cookie over plain HTTP except on localhost: say so up front."""
    host = request.host
    name = host[: host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
    if state.config.web.cookie_secure and not request.is_secure and name not in LOCAL_HOSTS:
        return Bi(
            "会话 Cookie 仅在 HTTPS 或本机（localhost）下有效，请改用 HTTPS 访问",
            "The session cookie needs HTTPS or localhost: open this page over HTTPS",
        )
    return None


def _safe_next(target: str | None) -> str:
    """Only a local staff path may follow a login: no open redirect, and nothing that could
    split or break the ``Location`` header (control characters, spaces)."""
    if (
        target
        and target.startswith("/staff")
        and target.isprintable()
        and not any(c.isspace() for c in target)
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return "/staff"


def register(app: Flask, state: WebState) -> None:
    """Add ``/staff/login`` (GET, POST) and ``/staff/logout`` (POST)."""

    def page(message: Bi | None, status: int, retry_after: int | None = None) -> Response:
        body = render_template(
            "login.html",
            lang=state.language(),
            message=message,
            configured=state.config.web.staff_password_hash is not None,
            cookie_warning=_cookie_warning(state),
            next=_safe_next(request.args.get("next") or request.form.get("next")),
        )
        response = Response(body, status=status, mimetype="text/html")
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.get("/staff/login")
    def login() -> Response:
        if is_staff(state):
            return redirect(_safe_next(request.args.get("next")), code=303)
        return page(None, 200)

    @app.post("/staff/login")
    def login_post() -> Response:
        stored = state.config.web.staff_password_hash
        if stored is None:
            return page(Bi("未设置员工密码，无法登录", "No staff password is set"), 403)
        client = request.remote_addr or "unknown"
        wait = state.limiter.reserve(client, time.monotonic())  # counted before the check
        if wait is not None:
            state.counters.add("login_refused")
            seconds = math.ceil(wait)
            message = Bi(
                f"登录失败次数过多，请 {seconds} 秒后再试",
                f"Too many failed logins: try again in {seconds} s",
            )
            return page(message, 429, retry_after=seconds)
        password = request.form.get("password", "")
        if not password or not check_password_hash(stored, password):
            state.counters.add("login_failures")
            logger.warning("staff login failed from %s", client)
            return page(Bi("密码错误", "Wrong password"), 401)
        state.limiter.succeeded(client)
        state.sessions.end(session.get("sid"))
        session.clear()
        session.permanent = True
        session["staff"] = True
        session["gen"] = state.password_generation
        session["sid"] = state.sessions.begin(time.monotonic())
        csrf_token()
        logger.info("staff logged in from %s", client)
        return redirect(_safe_next(request.form.get("next")), code=303)

    @app.post("/staff/logout")
    def logout() -> Response:
        state.sessions.end(session.get("sid"))  # the cookie's copies stop working too
        session.clear()
        return redirect(url_for("login"), code=303)
