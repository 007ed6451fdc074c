"""Masked names and keyed subject hashes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from kiosk.codes.privacy import SubjectHasher, looks_like_id_number, mask_name

MASKS = [
    ("张小中", "张*中"),
    ("张三", "张*"),
    ("王", "*"),
    ("欧阳小明", "欧**明"),
    ("买买提·艾力", "买****力"),
    ("  李四 ", "李*"),
    ("张*中", "张*中"),
    ("Gabriele Musterfrau-Gößinger", "G* M*"),
    ("MUSTERFRAU<GOESSINGER", "M* G*"),
    ("Marilù Teresa Di Caprio", "M* T* D* C*"),
    ("Li, Wei", "L* W*"),
    ("G* M*", "G* M*"),
    # the definitions in docs/county-pass.md §3: a Chinese name has a CJK ideograph and no
    # whitespace (mixed scripts included); a word is what lies between whitespace, "," and "<"
    ("张 小中", "张* 小*"),
    ("李Lee", "李**e"),
    ("𠀀小明", "𠀀*明"),  # CJK Unified Ideographs Extension B
    ("豈小明", "豈*明"),  # CJK Compatibility Ideographs
    ("O'Brien", "O*"),
    ("Anne-Marie", "A*"),
    ("Anna\tMaria", "A* M*"),
    ("", None),
    ("   ", None),
    (None, None),
]


@pytest.mark.parametrize(("name", "masked"), MASKS)
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked
    if masked is not None:
        assert mask_name(masked) == masked  # idempotent


def test_masked_names_never_hold_more_than_the_first_and_last_character() -> None:
    for name in ("诸葛孔明亮", "Alexander Hamilton", "司马相如"):
        masked = mask_name(name)
        assert masked is not None
        kept = [c for c in masked if c not in "* "]
        assert len(kept) <= 2 and name not in masked


@pytest.mark.parametrize(
    ("text", "is_id"),
    [("11010519491231002X", True), ("110105194912310021", True), ("110105491231002", True),
     ("c2a41f0e9b7d43a8b5e6f7a8", False), ("1101051949123100", False)],
)  # fmt: skip
def test_id_numbers_are_recognised(text: str, is_id: bool) -> None:
    assert looks_like_id_number(text) is is_id


def test_subject_hash_is_hmac_sha256_with_the_kiosk_key() -> None:
    key = b"kiosk-secret-key-0123456789abcdef"
    expected = hmac.new(key, b"county:330106\x00abc", hashlib.sha256).hexdigest()
    assert SubjectHasher(key)("county:330106", "abc") == expected
    assert SubjectHasher(b"another-kiosk-key-0123456789")("county:330106", "abc") != expected
    assert SubjectHasher(key)("dcc", "abc") != expected
    assert SubjectHasher(None)("county:330106", "abc") is None
    assert SubjectHasher(key)("county:330106", "") is None
