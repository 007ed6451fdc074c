"""Online tokens against a real HTTPS server on 127.0.0.1: each failure maps to its status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.codes.county_sim import CountyService, TlsFiles, make_tls
from kiosk.codes.verifier import Verifier
from kiosk.config import ConfigError, OnlineVerifySection, VerifySection
from kiosk.model import CodeStatus, Itinerary, ItineraryStatus, parse_utc

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
TOKEN = "https://hc.county.example/q/7f3a9c2e-41d8-4b6a-9e0f"
PATTERN = r"https://hc\.county\.example/q/"
ANSWER = {
    "status": "yellow",
    "issuer": "330106",
    "subject_key": "a3f9c2e141d84b6a9e0f7c21",
    "masked_name": "王*明",
    "status_updated_at": "2026-11-28T06:00:00Z",
    "test": {"at": "2026-11-27T08:00:00Z", "result": "negative"},
    "vaccine_doses": 3,
}
CREDENTIAL = "kiosk-k-001-bearer-secret"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def secrets(tmp_path: Path) -> tuple[Path, Path]:
    cred = tmp_path / "token"
    cred.write_text(CREDENTIAL + "\n")
    key = tmp_path / "subject.key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    return cred, key


def service(tls: TlsFiles, **kw: object) -> Iterator[CountyService]:
    with CountyService(tls, {TOKEN: ANSWER}, credential=CREDENTIAL, **kw) as svc:  # type: ignore[arg-type]
        yield svc


def verifier(
    url: str, tls: TlsFiles, secrets: tuple[Path, Path], timeout: float = 1.0, ca: bool = True
) -> Verifier:
    online = OnlineVerifySection(
        url=url, timeout_s=timeout, patterns=(PATTERN,),
        ca_file=tls.ca_file if ca else None, credential_file=secrets[0],
    )  # fmt: skip
    v = Verifier(VerifySection(subject_key_file=secrets[1], online=online), kiosk_id="k-007")
    v.load()
    return v


@pytest.fixture
def normal(tls: TlsFiles) -> Iterator[CountyService]:
    yield from service(tls)


def test_normal_answer_maps_onto_the_status_set(
    normal: CountyService, tls: TlsFiles, secrets: tuple[Path, Path]
) -> None:
    v = verifier(normal.url, tls, secrets).verify(TOKEN, NOW)
    assert (v.kind, v.status, v.valid, v.reasons) == ("online-token", CodeStatus.YELLOW, True, ())
    assert v.masked_name == "王*明" and v.issuer == "330106" and v.vaccine_doses == 3
    assert v.test_result == "negative" and v.subject_hash and len(v.subject_hash) == 64
    assert ANSWER["subject_key"] not in repr(v)
    request = normal.last_request
    assert request is not None and request["token"] == TOKEN and request["kiosk"] == "k-007"
    assert request["ts"] == "2026-11-28T09:00:00.000Z" and len(request["request_id"]) == 36


@pytest.mark.parametrize("status", ["normal", "starred"])
def test_answer_with_an_itinerary_carries_it(
    tls: TlsFiles, secrets: tuple[Path, Path], status: str
) -> None:
    itinerary = {"status": status, "updated_at": "2026-11-28T05:00:00Z"}
    with CountyService(tls, {TOKEN: {**ANSWER, "itinerary": itinerary}},
                       credential=CREDENTIAL) as svc:  # fmt: skip
        v = verifier(svc.url, tls, secrets).verify(TOKEN, NOW)
    expected = Itinerary(ItineraryStatus(status), parse_utc("2026-11-28T05:00:00Z"))
    assert (v.status, v.valid, v.itinerary) == (CodeStatus.YELLOW, True, expected)


def test_answer_without_an_itinerary_has_none(
    normal: CountyService, tls: TlsFiles, secrets: tuple[Path, Path]
) -> None:
    assert "itinerary" not in ANSWER
    v = verifier(normal.url, tls, secrets).verify(TOKEN, NOW)
    assert (v.valid, v.itinerary) == (True, None)


def test_unknown_token_is_not_found(
    normal: CountyService, tls: TlsFiles, secrets: tuple[Path, Path]
) -> None:
    v = verifier(normal.url, tls, secrets).verify(TOKEN + "x", NOW)
    assert (v.status, v.valid, v.reasons) == (CodeStatus.NOT_FOUND, False, ("code.not_found",))


def test_expired_answer(tls: TlsFiles, secrets: tuple[Path, Path]) -> None:
    with CountyService(tls, {TOKEN: {"status": "expired"}}, credential=CREDENTIAL) as svc:
        v = verifier(svc.url, tls, secrets).verify(TOKEN, NOW)
    assert (v.status, v.valid, v.reasons) == (CodeStatus.EXPIRED, False, ("code.expired",))


def test_slow_service_times_out_within_the_deadline(
    tls: TlsFiles, secrets: tuple[Path, Path]
) -> None:
    with CountyService(tls, {TOKEN: ANSWER}, credential=CREDENTIAL, mode="slow", delay_s=30) as svc:
        started = time.monotonic()
        v = verifier(svc.url, tls, secrets, timeout=0.5).verify(TOKEN, NOW)
        elapsed = time.monotonic() - started
    assert (v.status, v.valid, v.reasons) == (CodeStatus.TIMEOUT, False, ("verify.timeout",))
    assert elapsed < 0.5 + 2.0  # the deadline holds, with a wide margin for a busy machine
    assert svc.requests == 1  # a timeout is never retried


def test_dripping_answer_is_cut_at_the_deadline(tls: TlsFiles, secrets: tuple[Path, Path]) -> None:
    """Each byte arrives well within the socket timeout; only the overall deadline stops it."""
    with CountyService(tls, {TOKEN: ANSWER}, credential=CREDENTIAL, mode="drip") as svc:
        started = time.monotonic()
        v = verifier(svc.url, tls, secrets, timeout=0.6).verify(TOKEN, NOW)
        elapsed = time.monotonic() - started
    assert (v.status, v.valid, v.reasons) == (CodeStatus.TIMEOUT, False, ("verify.timeout",))
    assert elapsed < 0.6 + 2.0  # the 20 s answer was cut off
    assert svc.requests == 1


def test_server_error_is_failed_and_retried_only_inside_the_deadline(
    tls: TlsFiles, secrets: tuple[Path, Path]
) -> None:
    with CountyService(tls, {TOKEN: ANSWER}, credential=CREDENTIAL, mode="error") as svc:
        started = time.monotonic()
        v = verifier(svc.url, tls, secrets, timeout=1.0).verify(TOKEN, NOW)
        elapsed = time.monotonic() - started
    assert (v.status, v.valid, v.reasons) == (CodeStatus.FAILED, False, ("verify.server_error",))
    assert svc.requests == 2 and elapsed < 1.0 + 2.0


def test_malformed_json_is_failed(tls: TlsFiles, secrets: tuple[Path, Path]) -> None:
    with CountyService(tls, {TOKEN: ANSWER}, credential=CREDENTIAL, mode="malformed") as svc:
        v = verifier(svc.url, tls, secrets).verify(TOKEN, NOW)
    assert (v.status, v.valid, v.reasons) == (CodeStatus.FAILED, False, ("verify.bad_response",))


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "purple"},
        {"colour": "green"},
        ["green"],
        {"status": "green", "vaccine_doses": "3"},
        {"status": "green", "test": {"at": "yesterday", "result": "negative"}},
        {"status": "green", "itinerary": {"status": "amber", "updated_at": "2026-11-28T05:00Z"}},
        {"status": "green", "itinerary": {"status": "starred"}},
        {"status": "green", "itinerary": {"status": "normal", "updated_at": "last week"}},
        {"status": "green", "itinerary": "starred"},
    ],
)
def test_wrong_shaped_answers_are_failed(
    tls: TlsFiles, secrets: tuple[Path, Path], answer: object
) -> None:
    with CountyService(tls, {TOKEN: answer}, credential=CREDENTIAL) as svc:  # type: ignore[dict-item]
        v = verifier(svc.url, tls, secrets).verify(TOKEN, NOW)
    assert (v.status, v.valid, v.reasons) == (CodeStatus.FAILED, False, ("verify.bad_response",))


def test_tls_failure_is_failed(
    normal: CountyService, tls: TlsFiles, secrets: tuple[Path, Path], tmp_path: Path
) -> None:
    stranger = make_tls(tmp_path / "other", "some other CA")  # the kiosk trusts the wrong CA
    v = verifier(normal.url, stranger, secrets).verify(TOKEN, NOW)
    assert (v.status, v.valid, v.reasons) == (CodeStatus.FAILED, False, ("verify.tls",))
    v = verifier(normal.url, tls, secrets, ca=False).verify(TOKEN, NOW)  # system CAs only
    assert v.reasons == ("verify.tls",)
    assert normal.requests == 0  # nothing was sent over an unverified connection


def test_wrong_credential_is_unauthorized(
    normal: CountyService, tls: TlsFiles, secrets: tuple[Path, Path]
) -> None:
    secrets[0].write_text("not-the-token\n")
    v = verifier(normal.url, tls, secrets).verify(TOKEN, NOW)
    assert (v.status, v.reasons) == (CodeStatus.FAILED, ("verify.unauthorized",))


def test_nobody_listening_is_unreachable(tls: TlsFiles, secrets: tuple[Path, Path]) -> None:
    with CountyService(tls) as svc:
        url = svc.url  # a port that was just free and is closed again
    v = verifier(url, tls, secrets).verify(TOKEN, NOW)
    assert (v.status, v.reasons) == (CodeStatus.FAILED, ("verify.unreachable",))


def test_token_without_a_configured_service(secrets: tuple[Path, Path]) -> None:
    online = OnlineVerifySection(patterns=(PATTERN,))
    v = Verifier(VerifySection(online=online)).verify(TOKEN, NOW)
    assert (v.kind, v.status, v.reasons) == (
        "online-token",
        CodeStatus.FAILED,
        ("verify.not_configured",),
    )


def test_missing_credential_file_is_a_config_error(tls: TlsFiles, tmp_path: Path) -> None:
    online = OnlineVerifySection(url="https://127.0.0.1:1/v", credential_file=tmp_path / "none")
    with pytest.raises(ConfigError, match=r"verify\.online\.credential_file"):
        Verifier(VerifySection(online=online)).load()
