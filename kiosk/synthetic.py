"""Synthetic but realistic entries, for ``kiosk simulate entries``, the benchmarks and tests."""

from __future__ import annotations

import hashlib
import random

from kiosk.model import Entry, Outcome

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"

# (weight, decision, reasons, code status, temperature state)
_MIX: tuple[tuple[int, Outcome, tuple[str, ...], str, str], ...] = (
    (80, Outcome.PASS, (), "green", "ok"),
    (5, Outcome.DENY, ("code.red",), "red", "ok"),
    (5, Outcome.REFER, ("code.yellow",), "yellow", "ok"),
    (4, Outcome.DENY, ("temp.fever",), "green", "fever"),
    (3, Outcome.REFER, ("code.expired",), "expired", "ok"),
    (3, Outcome.REFER, ("temp.not_ready",), "green", "not_ready"),
)


def masked_name(rng: random.Random) -> str:
    """A masked Chinese name such as 张*华: never a real person."""
    return rng.choice(_SURNAMES) + "*" + rng.choice(_GIVEN)


def synthetic_entry(kiosk: str, site: str, rng: random.Random) -> Entry:
    weights = [m[0] for m in _MIX]
    _, decision, reasons, status, temp_state = rng.choices(_MIX, weights)[0]
    temperature = round(rng.uniform(37.4, 38.6), 1) if temp_state == "fever" else None
    if temp_state == "ok":
        temperature = round(rng.uniform(36.0, 37.1), 1)
    subject = hashlib.sha256(rng.randbytes(16)).hexdigest()[:32]
    return Entry.new(
        kiosk,
        site,
        decision,
        reasons,
        code_kind="county-pass",
        code_status=status,
        masked_name=masked_name(rng),
        subject_hash=subject,
        temperature_c=temperature,
        temperature_state=temp_state,
        policy_version="synthetic",
    )
