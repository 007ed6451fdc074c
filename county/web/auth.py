"""Desk login and roles: the shared state, the logged-in user, the role check, the login
and logout routes (a login limit per client address, server-side sessions, CSRF)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Flask, abort, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from county.config import Config
from county.desk.db import DeskDb
from county.desk.users import User, get_user
from county.trace import CountyKeys
from kiosk.web.auth import csrf_token
from kiosk.web.limiter import LoginLimiter
from kiosk.web.sessions import StaffSessions
from kiosk.web.sse import StreamGate

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
#: A password check that never matches, so an unknown user costs the same time as a known one.
_DUMMY_HASH = "scrypt:32768:8:1$dummy$" + "0" * 128


#: Live sessions one desk user may hold (browsers, machines); the longest idle ends first.
SESSIONS_PER_USER = 8


class DeskSessions:
    """Server-side sessions kept per user, so that one account logging in again and again
    ends only its own oldest sessions, never everyone else's (one shared, capped pool would).
    Users are the desk's own (the signed cookie names them), so the number of pools is
    bounded by the users table. Thread-safe."""

    def __init__(self, idle_s: float, per_user: int = SESSIONS_PER_USER) -> None:
        self._idle_s = idle_s
        self._per_user = per_user
        self._by_user: dict[str, StaffSessions] = {}
        self._lock = threading.Lock()

    def _of(self, user: str) -> StaffSessions:
        with self._lock:
            pool = self._by_user.get(user)
            if pool is None:
                pool = StaffSessions(self._idle_s, max_sessions=self._per_user)
                self._by_user[user] = pool
            return pool

    def begin(self, user: str, now: float) -> str:
        return self._of(user).begin(now)

    def touch(self, user: str, sid: object, now: float) -> bool:
        return self._of(user).touch(sid, now)

    def end(self, user: object, sid: object) -> None:
        if isinstance(user, str):
            self._of(user).end(sid)


@dataclass
class DeskState:
    """What the routes share; built once by ``create_app``."""

    config: Config
    db: DeskDb
    keys: CountyKeys
    limiter: LoginLimiter
    sessions: DeskSessions
    streams: StreamGate  # open /events streams, capped overall and per client
    health: Callable[[], dict[str, Any]] = field(default=lambda: {"ok": True})

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.desk.timezone)


def lang() -> str:
    chosen = request.args.get("lang")
    return chosen if chosen in ("zh", "en") else str(g.get("default_lang", "zh"))


def bilingual(zh: str, en: str) -> Markup:
    """Both languages, the chosen one first and the other small beside it."""
    first, second = (en, zh) if lang() == "en" else (zh, en)
    return Markup("{} <small>{}</small>").format(first, second)


def current_user(state: DeskState) -> User | None:
    """The logged-in user: a live server-side session and a user that still exists."""
    name = session.get("user")
    if not isinstance(name, str) or not state.sessions.touch(
        name, session.get("sid"), time.monotonic()
    ):
        if name is not None:
            session.clear()
        return None
    user = get_user(state.db, name)
    if user is None or user.role != session.get("role"):
        state.sessions.end(name, session.get("sid"))
        session.clear()
        return None
    return user


def requires(state: DeskState, action: str) -> Callable[[F], F]:
    """Decorator: a logged-in user allowed ``action``; else the login page (or 403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user(state)
            if user is None:
                return redirect(url_for("login", next=safe_next(request.path)), code=303)
            if not user.may(action):
                logger.warning("desk: %s (%s) refused %s", user.name, user.role, action)
                abort(403)
            g.user = user
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def safe_next(target: str | None) -> str:
    if (
        target
        and target.startswith("/")
        and target.isprintable()
        and not any(c.isspace() for c in target)
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return "/"


def register(app: Flask, state: DeskState) -> None:
    def page(message: tuple[str, str] | None, status: int, wait: int | None = None) -> Response:
        body = render_template(
            "login.html", message=message, next=safe_next(request.values.get("next"))
        )
        response = Response(body, status=status, mimetype="text/html")
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response

    @app.get("/login")
    def login() -> Response:
        return page(None, 200)

    @app.post("/login")
    def login_post() -> Response:
        client = request.remote_addr or "unknown"
        reserved_at = time.monotonic()
        wait = state.limiter.reserve(client, reserved_at)  # counted before the check
        if wait is not None:
            seconds = math.ceil(wait)
            text = (
                f"登录失败次数过多，请 {seconds} 秒后再试",
                f"Too many failed logins: wait {seconds} s",
            )
            return page(text, 429, seconds)
        name = request.form.get("user", "")[:64]
        password = request.form.get("password", "")[:256]
        user = get_user(state.db, name) if name else None
        stored = user.password_hash if user else _DUMMY_HASH
        if not password or not check_password_hash(stored, password) or user is None:
            logger.warning("desk: failed login from %s", client)
            return page(("用户名或密码错误", "Wrong user name or password"), 401)
        # Only this attempt is given back: the address's failures stay counted, or a login to
        # one's own account between rounds of guesses would reset the limit for another's.
        state.limiter.refund(client, reserved_at)
        state.sessions.end(session.get("user"), session.get("sid"))
        session.clear()
        session.permanent = True
        session["user"] = user.name
        session["role"] = user.role
        session["sid"] = state.sessions.begin(user.name, time.monotonic())
        csrf_token()
        logger.info("desk: %s (%s) logged in from %s", user.name, user.role, client)
        return redirect(safe_next(request.form.get("next")), code=303)

    @app.post("/logout")
    def logout() -> Response:
        # every copy of the cookie stops working
        state.sessions.end(session.get("user"), session.get("sid"))
        session.clear()
        return redirect(url_for("login"), code=303)
