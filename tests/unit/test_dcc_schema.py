"""The vendored EU DCC schema as the kiosk applies it: by declared version, JSON's types only."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest

from kiosk.codes import dccschema
from kiosk.codes.dccschema import SchemaError, as_json, schema_for, validate
from tests.codes_support import DCC_TEST, DCC_VACCINATION, dcc_payload


def test_the_vendored_file_is_schema_1_3_3_unchanged() -> None:
    schema = json.loads(dccschema.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$comment"] == "Schema version 1.3.3"
    assert schema["properties"]["v"]["maxItems"] == 1
    licence = dccschema.SCHEMA_FILE.with_name("LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence


def test_versions_before_1_3_lift_only_the_one_entry_bound() -> None:
    old, new = schema_for("1.0.0"), schema_for("1.3.3")
    assert schema_for("1.2.1") is old and schema_for("1.4.0") is new
    for group in ("v", "t", "r"):
        assert "maxItems" not in old["properties"][group]
        assert {k: v for k, v in new["properties"][group].items() if k != "maxItems"} == (
            old["properties"][group]
        )
    assert old["$defs"] == new["$defs"] and old["oneOf"] == new["oneOf"]


def test_an_unknown_keyword_stops_loading() -> None:
    with pytest.raises(RuntimeError, match="not implemented"):
        dccschema._check_keywords({"type": "object", "properties": {"x": {"const": 1}}})


BAD: list[tuple[str, Any]] = [
    ("dose as bool", {"dn": True}),
    ("dose as text", {"dn": "2"}),
    ("dose below 1", {"dn": 0}),
    ("issuer as bytes", {"is": b"AT"}),
    ("issuer too long", {"is": "x" * 81}),
    ("country lower case", {"co": "at"}),
    ("tag 1 beyond year 9999", {"dt": cbor2.CBORTag(1, 1e20)}),
    ("unknown tag", {"dt": cbor2.CBORTag(55799, "2021-06-01")}),
    ("missing member", {"ci": None}),
]


@pytest.mark.parametrize(("what", "change"), BAD, ids=[b[0] for b in BAD])
def test_what_the_schema_refuses(what: str, change: dict[str, Any]) -> None:
    entry = {**DCC_VACCINATION, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(SchemaError) as caught:
        validate(as_json(dcc_payload(v=[entry])))
    assert str(caught.value).startswith("/v/0")  # where, never the value
    assert "AT" not in str(caught.value) and "Ministry" not in str(caught.value)


def test_tags_become_the_json_they_stand_for() -> None:
    payload = dcc_payload(t=[{**DCC_TEST, "sc": cbor2.CBORTag(1, 1623312000.5)}])
    assert as_json(payload)["t"][0]["sc"] == "2021-06-10T08:00:00.500000Z"
    assert as_json(cbor2.CBORTag(100, 18779)) == "2021-06-01"
    assert as_json((1, (2,))) == [1, [2]]
