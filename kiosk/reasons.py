"""Stable reason codes with the zh-CN and English texts the screen shows (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One reason code: what the visitor reads (Chinese first) and what staff read in logs."""

    code: str
    zh: str
    en: str


# -- the code itself -------------------------------------------------------------------------
CODE_MISSING = "code.missing"
CODE_UNKNOWN_FORMAT = "code.unknown_format"
CODE_BAD_ENCODING = "code.bad_encoding"
CODE_MALFORMED = "code.malformed"
CODE_UNSUPPORTED_ALG = "code.unsupported_alg"
CODE_UNKNOWN_KEY = "code.unknown_key"
CODE_UNKNOWN_ISSUER = "code.unknown_issuer"
CODE_KEY_NOT_VALID = "code.key_not_valid"
CODE_BAD_SIGNATURE = "code.bad_signature"
CODE_WRONG_USAGE = "code.wrong_usage"
CODE_NOT_YET_VALID = "code.not_yet_valid"
CODE_EXPIRED = "code.expired"
CODE_NOT_FOUND = "code.not_found"
CODE_RED = "code.red"
CODE_YELLOW = "code.yellow"
CODE_NOT_ACCEPTED = "code.not_accepted"
# -- the county's updates: status age and revocations (docs/county-pass.md) ------------------
CODE_STATUS_TOO_OLD = "code.status_too_old"
CODE_REVOKED = "code.revoked"
CODE_REVOCATIONS_STALE = "code.revocations_stale"
# -- the online verification service ---------------------------------------------------------
VERIFY_NOT_CONFIGURED = "verify.not_configured"
VERIFY_TIMEOUT = "verify.timeout"
VERIFY_UNREACHABLE = "verify.unreachable"
VERIFY_TLS = "verify.tls"
VERIFY_UNAUTHORIZED = "verify.unauthorized"
VERIFY_SERVER_ERROR = "verify.server_error"
VERIFY_BAD_RESPONSE = "verify.bad_response"
# -- tests and vaccination -------------------------------------------------------------------
TEST_MISSING = "test.missing"
TEST_TOO_OLD = "test.too_old"
TEST_POSITIVE = "test.positive"
TEST_IN_FUTURE = "test.in_future"
TEST_UNKNOWN_RESULT = "test.unknown_result"
VACCINE_INSUFFICIENT = "vaccine.insufficient"
# -- the itinerary card (行程卡) -------------------------------------------------------------
ITINERARY_STARRED = "itinerary.starred"
ITINERARY_STALE = "itinerary.stale"
ITINERARY_MISSING = "itinerary.missing"
# -- temperature -----------------------------------------------------------------------------
TEMP_FEVER = "temp.fever"
TEMP_NOT_READY = "temp.not_ready"
TEMP_OUT_OF_RANGE = "temp.out_of_range"

_TABLE = (
    Reason(CODE_MISSING, "未检测到健康码", "No health code was shown"),
    Reason(CODE_UNKNOWN_FORMAT, "无法识别的码", "This code is not a health code or pass"),
    Reason(CODE_BAD_ENCODING, "码内容损坏，无法读取", "The code's content is damaged"),
    Reason(CODE_MALFORMED, "码内容格式错误", "The code's content is malformed"),
    Reason(
        CODE_UNSUPPORTED_ALG,
        "码的签名算法不受支持",
        "The code's signature algorithm is not supported",
    ),
    Reason(
        CODE_UNKNOWN_KEY,
        "签发密钥不受信任",
        "The code was signed with a key this kiosk does not trust",
    ),
    Reason(CODE_UNKNOWN_ISSUER, "签发机构不受信任", "The code's issuer is not trusted here"),
    Reason(
        CODE_KEY_NOT_VALID,
        "签发证书在签发时无效",
        "The signing certificate was not valid when the code was issued",
    ),
    Reason(
        CODE_BAD_SIGNATURE,
        "签名无效，码可能被篡改",
        "Invalid signature: the code may have been altered",
    ),
    Reason(
        CODE_WRONG_USAGE,
        "签发证书无权签发此类证明",
        "The signing certificate may not issue this kind of certificate",
    ),
    Reason(CODE_NOT_YET_VALID, "码尚未生效", "The code is not valid yet"),
    Reason(CODE_EXPIRED, "码已过期，请更新", "The code has expired; please renew it"),
    Reason(CODE_NOT_FOUND, "平台未查到此码", "The issuing platform does not know this code"),
    Reason(CODE_RED, "红码，禁止通行", "Red code: entry refused"),
    Reason(CODE_YELLOW, "黄码，禁止通行", "Yellow code: entry refused"),
    Reason(CODE_NOT_ACCEPTED, "此码状态不符合通行规则", "The code's status is not accepted here"),
    Reason(
        CODE_STATUS_TOO_OLD,
        "码的健康状态更新过久，请刷新或联系工作人员",
        "The code's health status is too old; please refresh it or see staff",
    ),
    Reason(CODE_REVOKED, "此通行证已被县平台撤销", "This pass has been revoked by the county"),
    Reason(
        CODE_REVOCATIONS_STALE,
        "本机撤销名单过期，请联系工作人员核验",
        "This kiosk's revocation list is out of date: staff must check the pass",
    ),
    Reason(
        VERIFY_NOT_CONFIGURED,
        "本机未配置在线验码服务",
        "Online verification is not set up on this kiosk",
    ),
    Reason(VERIFY_TIMEOUT, "验码服务超时", "The verification service did not answer in time"),
    Reason(VERIFY_UNREACHABLE, "无法连接验码服务", "The verification service cannot be reached"),
    Reason(
        VERIFY_TLS,
        "验码服务证书校验失败",
        "The verification service's certificate could not be verified",
    ),
    Reason(
        VERIFY_UNAUTHORIZED,
        "验码服务拒绝本机请求",
        "The verification service refused this kiosk's credentials",
    ),
    Reason(VERIFY_SERVER_ERROR, "验码服务故障", "The verification service reported an error"),
    Reason(
        VERIFY_BAD_RESPONSE,
        "验码服务返回无效结果",
        "The verification service sent an invalid answer",
    ),
    Reason(TEST_MISSING, "无核酸检测记录", "No nucleic-acid test on record"),
    Reason(TEST_TOO_OLD, "核酸检测结果已超过时限", "The nucleic-acid test is too old"),
    Reason(TEST_POSITIVE, "核酸检测结果阳性", "The nucleic-acid test is positive"),
    Reason(TEST_IN_FUTURE, "检测时间晚于当前时间", "The test time lies in the future"),
    Reason(TEST_UNKNOWN_RESULT, "检测结果无法识别", "The test result is not one the kiosk knows"),
    Reason(VACCINE_INSUFFICIENT, "疫苗接种剂次不足", "Not enough vaccination doses"),
    Reason(
        ITINERARY_STARRED,
        "行程卡带星号，请联系工作人员",
        "Itinerary card starred: a city with a risk area in the last 14 days",
    ),
    Reason(ITINERARY_STALE, "行程卡信息过旧，请更新", "The itinerary card is out of date"),
    Reason(ITINERARY_MISSING, "未获取到行程卡信息", "No itinerary card on record"),
    Reason(TEMP_FEVER, "体温异常，请联系工作人员", "Elevated temperature"),
    Reason(TEMP_NOT_READY, "未完成测温，请将手腕或额头靠近测温区", "Temperature not measured yet"),
    Reason(TEMP_OUT_OF_RANGE, "测温结果不可信，请重新测温", "Implausible temperature reading"),
)

#: Every reason code the kiosk can give, with its texts.
REASONS: dict[str, Reason] = {r.code: r for r in _TABLE}

# -- staff registration (人工登记): the staff member decides, these say why and how ----------
STAFF_MANUAL = "staff.manual"
MANUAL_NO_PHONE = "manual.no_phone"
MANUAL_PHONE_FLAT = "manual.phone_flat"
MANUAL_PASS_LOST = "manual.pass_lost"  # noqa: S105 - a reason code

#: Reasons of an entry a staff member registered by hand; not the policy's.
MANUAL: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(STAFF_MANUAL, "工作人员人工登记", "Registered by staff"),
        Reason(MANUAL_NO_PHONE, "无智能手机", "No smartphone"),
        Reason(MANUAL_PHONE_FLAT, "手机没电", "Phone battery flat"),
        Reason(MANUAL_PASS_LOST, "纸质通行证遗失", "Paper pass lost"),
    )
}

# -- the kiosk itself: shown on screen, never a verdict on a code ------------------------------
STORAGE_ERROR = "storage.error"
DEVICE_CAMERA = "device.camera"
DEVICE_THERMOMETER = "device.thermometer"
UPLINK_OFFLINE = "uplink.offline"
UPDATES_STALE = "updates.stale"
UPDATES_REFUSED = "updates.refused"

#: Conditions of the kiosk the screen reports (banners, or the reason of a SEE STAFF).
NOTICES: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(STORAGE_ERROR, "系统无法记录，请联系工作人员", "The kiosk cannot record entries"),
        Reason(DEVICE_CAMERA, "摄像头故障，请联系工作人员", "Camera fault: please see staff"),
        Reason(
            DEVICE_THERMOMETER, "测温仪故障，请联系工作人员", "Thermometer fault: please see staff"
        ),
        Reason(
            UPLINK_OFFLINE,
            "与县平台连接中断，记录已保存在本机",
            "County link offline: entries are kept on this kiosk",
        ),
        Reason(
            UPDATES_STALE,
            "撤销名单未及时更新，县通行证需人工核验",
            "Revocation list out of date: county passes need a staff check",
        ),
        Reason(
            UPDATES_REFUSED,
            "收到无效的县平台名单，已拒收",
            "An invalid list from the county was refused",
        ),
    )
}


def describe(code: str) -> Reason:
    """The texts for ``code``; an unknown code gets a generic text that names it."""
    known = REASONS.get(code) or MANUAL.get(code) or NOTICES.get(code)
    if known is not None:
        return known
    return Reason(code, f"请联系工作人员（{code}）", f"Please see staff ({code})")
