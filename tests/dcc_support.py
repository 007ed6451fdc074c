"""EU DCCs signed here, one per point the shared test data does not cover, with the result the
reference validators give (schema of the declared version, RFC 8392/9052, the DCC verifier
rules). The table is read by the library test and by the ``kiosk verify`` test alike."""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2

from kiosk.codes.cose import ES256
from tests.codes_support import (
    DCC_TEST,
    DCC_VACCINATION,
    DccSigner,
    dcc_payload,
    make_dcc_signer,
    sign_dcc,
)

#: Every generated DCC is issued at IAT and expires at EXP (whole seconds).
IAT = int(datetime(2021, 6, 1, tzinfo=UTC).timestamp())
EXP = IAT + 365 * 86400
OK: dict[str, Any] = {"valid": True, "status": "green", "reasons": []}
SAMPLE_AT = "2021-06-10T08:00:00Z"
#: Vaccination members the schema types as strings with no minimum length or pattern.
EMPTY_ALLOWED = ("tg", "vp", "mp", "ma", "is", "ci")


def refused(reason: str) -> dict[str, Any]:
    return {"valid": False, "status": "failed", "reasons": [reason]}


@dataclass(frozen=True)
class GeneratedDcc:
    """One DCC made here: its text, the outcome expected at EXP, and why that is the outcome."""

    name: str
    text: str
    expected: dict[str, Any]
    why: str
    nam: dict[str, str] = field(default_factory=dict)

    @property
    def authentic(self) -> bool:
        """Signed, trusted and well-formed: at EXP + 1 s it must come out expired."""
        return bool(self.expected["valid"])


@dataclass(frozen=True)
class Signers:
    p256: DccSigner
    p384: DccSigner
    p521: DccSigner
    rsa: DccSigner
    test_only: DccSigner  # extended key usage: may sign test certificates only
    untrusted: DccSigner

    def trusted(self) -> tuple[DccSigner, ...]:
        return (self.p256, self.p384, self.p521, self.rsa, self.test_only)

    def write_trust(self, folder: Path) -> Path:
        for signer in self.trusted():
            signer.write(folder)
        return folder


@functools.cache
def signers() -> Signers:
    return Signers(
        p256=make_dcc_signer("P-256"),
        p384=make_dcc_signer("P-384"),
        p521=make_dcc_signer("P-521"),
        rsa=make_dcc_signer("RSA"),
        test_only=make_dcc_signer("P-256", usages=("t",)),
        untrusted=make_dcc_signer("P-256"),
    )


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    entry = dict(base)
    entry.update(changes)
    return entry


def _test(**changes: Any) -> dict[str, Any]:
    return dcc_payload(t=[_with(DCC_TEST, **changes)])


def _vacc(ver: str = "1.3.0", **changes: Any) -> dict[str, Any]:
    return dcc_payload(ver, v=[_with(DCC_VACCINATION, **changes)])


def _doses(ver: str, count: int) -> dict[str, Any]:
    entries = [
        _with(DCC_VACCINATION, dn=n, sd=count, dt=f"2021-0{n + 2}-01") for n in range(1, count + 1)
    ]
    return dcc_payload(ver, v=entries)


def _empty_strings() -> dict[str, Any]:
    payload = dcc_payload(v=[_with(DCC_VACCINATION, **dict.fromkeys(EMPTY_ALLOWED, ""))])
    payload["nam"] = {"fn": "", "fnt": "MUSTERFRAU<GOESSINGER", "gn": "", "gnt": "GABRIELE"}
    payload["dob"] = ""
    return payload


@functools.cache
def generated_dccs() -> tuple[GeneratedDcc, ...]:
    """The table; the signers' keys are made once per test session."""
    s = signers()
    test_ok = {**OK, "test_result": "negative", "test_at": "2021-06-10T08:00:00.000Z"}
    rows: list[tuple[str, DccSigner, Any, dict[str, Any], dict[str, Any], str]] = [
        # (name, signer, payload, sign_dcc options, expected, why)
        ("baseline", s.p256, _vacc(), {}, {**OK, "vaccine_doses": 2}, "schema 1.3 example"),
        ("sc-as-tag-0", s.p256, _test(sc=cbor2.CBORTag(0, SAMPLE_AT)), {}, test_ok,
         "RFC 8949 §3.4.1: tag 0 is a date-time string; the schema's date-time"),
        ("sc-as-tag-1", s.p256, _test(sc=cbor2.CBORTag(1, 1623312000)), {}, test_ok,
         "RFC 8949 §3.4.2: tag 1 is epoch seconds; the same instant"),
        ("dt-as-tag-1004", s.p256, _vacc(dt=cbor2.CBORTag(1004, "2021-06-01")), {},
         {**OK, "vaccine_doses": 2}, "RFC 8943: tag 1004 is a full-date string"),
        ("empty-strings", s.p256, _empty_strings(), {}, {**OK, "masked_name": "G* M* G*"},
         "schema: tg/vp/mp/ma/is/ci/fn/gn are strings with no minimum length; dob may be empty"),
        ("empty-country", s.p256, _vacc(co=""), {}, refused("code.malformed"),
         "schema: co must match [A-Z]{1,10}; an empty one is not allowed"),
        ("dob-with-time", s.p256, dict(_vacc(), dob="1998-02-26T00:00:00"), {},
         {**OK, "vaccine_doses": 2},
         "1.0 schema's dob pattern is unanchored; the date part names the holder"),
        ("dob-year-only", s.p256, dict(_vacc(), dob="1998"), {}, OK, "schema 1.3: YYYY allowed"),
        ("dob-not-iso", s.p256, dict(_vacc(), dob="26.02.1998"), {}, refused("code.malformed"),
         "schema: dob pattern"),
        ("v1.0.0-three-doses", s.p256, _doses("1.0.0", 3), {}, {**OK, "vaccine_doses": 3},
         "schema 1.0: v has minItems 1 and no maxItems; the latest dose speaks"),
        ("v1.2.1-two-doses", s.p256, _doses("1.2.1", 2), {}, {**OK, "vaccine_doses": 2},
         "judged like 1.0: the one-entry bound came with schema 1.3"),
        ("v1.3.0-two-doses", s.p256, _doses("1.3.0", 2), {}, refused("code.malformed"),
         "schema 1.3: v has maxItems 1"),
        ("two-groups", s.p256, dcc_payload(v=[DCC_VACCINATION], t=[DCC_TEST]), {},
         refused("code.malformed"), "schema 1.3 oneOf; one certificate per code (DGC2)"),
        ("unknown-test-result", s.p256, _test(tr="260999999"), {},
         {**test_ok, "test_result": "unknown"},
         "tr is a string in the schema; outside the value set it is no negative test"),
        ("outside-value-sets", s.p256,
         _vacc(tg="999999999", vp="J07BX99", mp="EU/1/99/9999", ma="ORG-999", co="XK"), {},
         {**OK, "vaccine_doses": 2}, "value sets are annotations (valueset-uri), not enums"),
        ("dose-as-float", s.p256, _vacc(dn=2.0, sd=2.0), {}, {**OK, "vaccine_doses": 2},
         "JSON Schema: 2.0 is an integer"),
        ("times-as-floats", s.p256, _vacc(), {"iat": float(IAT), "exp": float(EXP)},
         {**OK, "vaccine_doses": 2}, "RFC 8392 §2: a NumericDate may be a float"),
        ("extra-properties", s.p256, dict(_vacc(), xx=1), {}, OK,
         "schema: additional properties are allowed"),
        ("standardised-forename-only", s.p256, dict(_vacc(), nam={"gnt": "GABRIELE"}), {},
         {**OK, "masked_name": "G*"}, "schema 1.3 person_name: fnt or gnt"),
        ("no-name", s.p256, dict(_vacc(), nam={}), {}, refused("code.malformed"),
         "schema: person_name needs fnt or gnt (DGC1)"),
        ("ver-2", s.p256, _vacc(ver="2.0.0"), {}, refused("code.malformed"),
         "no schema 2.x exists to judge it by"),
        ("es384-p384", s.p384, _vacc(), {}, OK, "RFC 9053 ES384"),
        ("es256-header-p384-key", s.p384, _vacc(), {"alg": ES256}, OK,
         "reference validators verify ES256 (SHA-256) on the key's own curve; 96-byte r||s"),
        ("es256-header-sha384-signature", s.p384, _vacc(), {"alg": ES256, "hash_name": "SHA384"},
         refused("code.bad_signature"), "the signed header names SHA-256: nothing else counts"),
        ("es512-p521", s.p521, _vacc(), {}, OK, "RFC 9053 ES512"),
        ("ps256-rsa", s.rsa, _vacc(), {}, OK, "PS256, as CO1/CO2"),
        ("forged", DccSigner(s.untrusted.private_key, s.p256.cert_der), _vacc(), {},
         refused("code.bad_signature"), "trusted kid, other key (CO5)"),
        ("untrusted-signer", s.untrusted, _vacc(), {}, refused("code.unknown_key"),
         "kid not in the trust list (CO22/CO23)"),
        ("test-only-signer-vaccination", s.test_only, _vacc(), {}, refused("code.wrong_usage"),
         "EKU for tests only (CO6)"),
        ("test-only-signer-test", s.test_only, _test(), {}, test_ok, "EKU matches (CO12)"),
        ("expires-before-issued", s.p256, _vacc(), {"exp": IAT - 1}, refused("code.malformed"),
         "exp before iat: no validity period"),
    ]  # fmt: skip
    out = []
    for name, signer, payload, options, expected, why in rows:
        times = {"iat": IAT, "exp": EXP, **options}
        text = sign_dcc(signer, payload, **times)
        nam = copy.deepcopy(payload.get("nam", {}))
        out.append(GeneratedDcc(name, text, expected, why, nam))
    return tuple(out)


def masked_from_nam(nam: dict[str, str]) -> str:
    """The masked name the kiosk must show, worked out from the payload's own ``nam`` alone:
    forename then surname (the standardised form where the plain one is empty), each word its
    first letter and one ``*``."""
    given = nam.get("gn") or nam.get("gnt", "").replace("<", " ")
    family = nam.get("fn") or nam.get("fnt", "").replace("<", " ")
    words = [w for w in re.split(r"[\s,<]+", f"{given} {family}") if w]
    return " ".join(w[0] + "*" for w in words)


def name_parts(nam: dict[str, str]) -> list[str]:
    """The name fields that must never appear in any output (words of two letters or more)."""
    parts = [v for k, v in nam.items() if k in ("fn", "gn", "fnt", "gnt") and v]
    words = [w for v in parts for w in re.split(r"[\s,<]+", v) if len(w) >= 2]
    return parts + words
