"""The desk's revocation page (撤销通行证): handlers revoke a person's passes (by resident ID
number or pass subject) or one pass (by its id); the list is signed and published at once."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask, g, render_template, request

from county.config import Config
from county.desk import revocations
from county.desk.db import DeskDb
from county.lists import ListError, Register, publish
from county.trace import CountyKeys, TraceError, audit, subject_of

logger = logging.getLogger(__name__)


class Desk(Protocol):
    """What this page needs of ``county.web.app.DeskState`` (not imported: no import circle)."""

    config: Config
    db: DeskDb
    keys: CountyKeys


#: ``county.web.app.requires``: a decorator factory that lets only users allowed an action in.
Guard = Callable[[Any, str], Callable[[Callable[..., Any]], Callable[..., Any]]]


def register(app: Flask, state: Desk, requires: Guard) -> None:
    def page(message: tuple[str, str] | None, ok: bool, status: int) -> tuple[str, int]:
        issued, count = revocations.last_list(state.db)
        return render_template(
            "revocations.html", message=message, ok=ok, issued=issued, count=count,
            rows=revocations.recent(state.db),
        ), status  # fmt: skip

    @app.get("/revocations")
    @requires(state, "revoke")
    def revocations_page() -> tuple[str, int]:
        return page(None, True, 200)

    @app.post("/revocations")
    @requires(state, "revoke")
    def revoke_post() -> tuple[str, int]:
        who = request.form.get("who", "").strip()[:160]
        pass_id = request.form.get("pass_id", "").strip()[:64] or None
        reason = request.form.get("reason", "").strip()[:120]
        try:
            subject = subject_of(who, state.keys) if who else None
            signed = Register(state.config).revoke(subject, pass_id, reason, by=g.user.name)
        except (TraceError, ValueError) as exc:  # an ID number typed in is never echoed
            return page(("无法撤销：输入有误", f"Not revoked: {exc}"), False, 400)
        except ListError as exc:
            logger.error("desk: revocation not signed: %s", exc)
            return page(("无法撤销：签名失败", f"Not revoked: {exc}"), False, 503)
        what = f"subject sha256:{hashlib.sha256(subject.encode()).hexdigest()[:12]}" if subject \
            else f"pass {pass_id}"  # fmt: skip
        audit(state.db, g.user.name, g.user.role, "revoke", f"{what}: {reason}", signed.entries,
              datetime.now(UTC))  # fmt: skip
        try:
            publish(state.config, signed)
        except ListError as exc:
            logger.error("desk: %s", exc)
            text = (
                "已撤销并签名，但未能发布，请稍后重试发布",
                f"Revoked and signed, not published: {exc}",
            )
            return page(text, False, 502)
        return page(("已撤销，名单已发布", "Revoked; the list is published"), True, 200)
