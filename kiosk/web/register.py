"""人工登记 on the staff page: a staff member registers and decides a visitor without a code.

``POST /staff/register`` (staff session and CSRF token required) checks the form, masks the
name and hashes the phone or ID number inside the request (kiosk.manual), hands the
registration to the coordinator through the ``RegistrationDesk`` and answers with a redirect
that carries only the entry's number or a refusal code: the typed identifier is never logged,
stored, echoed in a page or put in a URL.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, redirect, request, session, url_for
from werkzeug.wrappers import Response

from kiosk.manual import (
    BAD_DECISION,
    BAD_IDENTIFIER,
    BAD_NAME,
    BAD_STAFF,
    BAD_TEMPERATURE,
    BAD_WHY,
    BUSY,
    FEVER_PASS,
    NO_TEMPERATURE,
    NOT_RECORDED,
    UNAVAILABLE,
    WHY,
    RegistrationRefused,
    registration,
)
from kiosk.web.auth import staff_required
from kiosk.web.present import Bi, reason_text
from kiosk.web.state import WebState

logger = logging.getLogger(__name__)

#: What the staff page says for each refusal code of kiosk.manual.
MESSAGES = {
    BAD_NAME: Bi("请填写访客姓名", "Enter the visitor's name"),
    BAD_IDENTIFIER: Bi(
        "请填写11位手机号或18位身份证号", "Enter an 11-digit phone number or an 18-character ID"
    ),
    BAD_WHY: Bi("请选择无码原因", "Choose why the visitor has no code"),
    BAD_DECISION: Bi("请选择通行或禁止", "Choose pass or deny"),
    BAD_STAFF: Bi("请填写登记人姓名", "Enter your name"),
    BAD_TEMPERATURE: Bi(
        "体温计读数应在 34.0-43.0 °C 之间", "The clinical reading must be 34.0-43.0 °C"
    ),
    NO_TEMPERATURE: Bi(
        "测温仪暂无读数：请访客在测温区测温后立即登记，或填写体温计读数",
        "No kiosk reading: register right after the visitor's measurement, or type a "
        "clinical reading",
    ),
    FEVER_PASS: Bi(
        "体温异常，不能登记为通行", "Elevated temperature: cannot be registered as pass"
    ),
    BUSY: Bi(
        "本机正在为其他访客验码，请稍后重试", "The kiosk is checking another visitor: try again"
    ),
    UNAVAILABLE: Bi("本机检查点未运行，无法登记", "The checkpoint is not running: cannot register"),
    NOT_RECORDED: Bi("台账无法记录，未登记", "The ledger cannot record: not registered"),
}


def form_context() -> dict[str, Any]:
    """What the staff page's registration form shows: reasons, last staff name, the result."""
    registered = request.args.get("registered", "")
    refused = request.args.get("register", "")
    message = None
    if registered.isdigit():
        message = ("ok", Bi(f"已登记，记录 #{registered}", f"Registered as entry #{registered}"))
    elif refused in MESSAGES:
        message = ("error", MESSAGES[refused])
    return {
        "register_why": [(code, reason_text(code)) for code in WHY],
        "register_staff_name": session.get("staff_name", ""),
        "register_message": message,
    }


def register(app: Flask, state: WebState) -> None:
    """Add ``POST /staff/register``."""
    guard = staff_required(state)

    @app.post("/staff/register")
    @guard
    def register_visitor() -> Response:
        lang = state.language()
        form = request.form
        try:
            if state.desk is None:
                raise RegistrationRefused(UNAVAILABLE)
            clinical = form.get("temperature_source") == "clinical"
            reg = registration(
                name=form.get("name", ""),
                identifier=form.get("identifier", ""),
                why=form.get("why", ""),
                decision=form.get("decision", ""),
                staff_name=form.get("staff_name", ""),
                clinical=form.get("clinical_c", "") if clinical else None,
                hasher=state.desk.hasher,
            )
            if clinical and reg.clinical_c is None:
                raise RegistrationRefused(BAD_TEMPERATURE)
            session["staff_name"] = reg.staff_name
            entry = state.desk.submit(reg)
        except RegistrationRefused as refused:
            logger.info("staff registration refused: %s", refused.code)
            target = url_for("staff", lang=lang, register=refused.code)
            return redirect(target + "#register", code=303)
        target = url_for("staff", lang=lang, registered=entry.seq)
        return redirect(target + "#register", code=303)
