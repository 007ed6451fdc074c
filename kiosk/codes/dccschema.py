"""The EU DCC JSON schema (vendored, Apache-2.0) applied to a decoded payload by its own ``ver``.

``schema/DCC.combined-schema.json`` is schema 1.3.3 unchanged (``schema/SOURCE.md``). A payload
declaring 1.0.x-1.2.x is judged by the rules of its time: the 1.0 schema put no upper bound on
the entries of ``v``/``t``/``r`` (1.3 says exactly one), so that bound is lifted for it. Only the
keywords the schema uses are implemented; ``format`` is an annotation (JSON Schema 2020-12), and
an unknown keyword makes loading fail rather than pass silently.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2

SCHEMA_FILE = Path(__file__).parent / "schema" / "DCC.combined-schema.json"
_VER = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "format"}
    | {"valueset-uri"}
)
_ASSERTIONS = frozenset(
    {"type", "properties", "required", "oneOf", "anyOf", "$ref", "pattern", "items"}
    | {"minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"}
)
#: CBOR tags a DCC may carry for a date or time (RFC 8949 §3.4.1/2, RFC 8943).
TAG_DATETIME, TAG_EPOCH, TAG_DAYS, TAG_DATE = 0, 1, 100, 1004
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SchemaError(ValueError):
    """The payload breaks the schema; the message names the place and rule, never a value."""


def _check_keywords(node: Any) -> None:
    if isinstance(node, dict):
        unknown = set(node) - _ANNOTATIONS - _ASSERTIONS
        if unknown:
            raise RuntimeError(f"DCC schema keyword(s) not implemented: {sorted(unknown)}")
        for key, value in node.items():
            if key == "properties" or key == "$defs":
                for sub in value.values():
                    _check_keywords(sub)
            elif key in ("items",):
                _check_keywords(value)
            elif key in ("oneOf", "anyOf"):
                for sub in value:
                    _check_keywords(sub)


@functools.cache
def _schema_1_3() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    _check_keywords(schema)
    return schema


@functools.cache
def _schema_1_0() -> dict[str, Any]:
    schema = copy.deepcopy(_schema_1_3())
    for group in ("v", "t", "r"):
        schema["properties"][group].pop("maxItems", None)
    return schema


def version_of(ver: Any) -> tuple[int, int, int]:
    """``ver`` as numbers; SchemaError unless it is ``major.minor.patch``."""
    match = _VER.fullmatch(ver) if isinstance(ver, str) else None
    if match is None:
        raise SchemaError("/ver must be a version like 1.3.0")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def schema_for(ver: Any) -> dict[str, Any]:
    """The schema a payload declaring ``ver`` is judged by; SchemaError for an unknown major."""
    major, minor, _patch = version_of(ver)
    if major != 1:
        raise SchemaError(f"/ver {major}.x is not a DCC schema version this kiosk knows")
    return _schema_1_0() if minor < 3 else _schema_1_3()


def _iso(seconds: float) -> str | None:
    if not math.isfinite(seconds) or not -62135596800 <= seconds <= 253402300799:
        return None
    when = _EPOCH + timedelta(seconds=seconds)
    return when.isoformat().replace("+00:00", "Z")


def as_json(obj: Any) -> Any:
    """A decoded CBOR item as the JSON the schema describes: arrays as lists, the date and time
    tags as the strings they stand for; anything else unchanged (and the schema then refuses
    what JSON cannot hold)."""
    if isinstance(obj, cbor2.CBORTag):
        value = obj.value
        if obj.tag in (TAG_DATETIME, TAG_DATE) and isinstance(value, str):
            return value
        if obj.tag == TAG_EPOCH and isinstance(value, int | float) and not isinstance(value, bool):
            return _iso(value) or obj
        if obj.tag == TAG_DAYS and isinstance(value, int) and not isinstance(value, bool):
            iso = _iso(value * 86400)
            return iso[:10] if iso else obj
        return obj
    if isinstance(obj, dict):
        return {k: as_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_json(v) for v in obj]
    return obj


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    raise RuntimeError(f"DCC schema type {kind!r} not implemented")


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise RuntimeError(f"DCC schema $ref {ref!r} is not local")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return dict(node)


def _check(value: Any, node: dict[str, Any], root: dict[str, Any], path: str) -> None:
    where = path or "/"
    if "$ref" in node:
        _check(value, _resolve(root, node["$ref"]), root, path)
    kind = node.get("type")
    if kind is not None and not _is_type(value, kind):
        raise SchemaError(f"{where} must be of type {kind}")
    if isinstance(value, str):
        if "maxLength" in node and len(value) > node["maxLength"]:
            raise SchemaError(f"{where} is longer than {node['maxLength']} characters")
        if "minLength" in node and len(value) < node["minLength"]:
            raise SchemaError(f"{where} is shorter than {node['minLength']} characters")
        if "pattern" in node and not re.search(node["pattern"], value, re.ASCII):
            raise SchemaError(f"{where} does not match its pattern")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            raise SchemaError(f"{where} is below {node['minimum']}")
        if "maximum" in node and value > node["maximum"]:
            raise SchemaError(f"{where} is above {node['maximum']}")
    if isinstance(value, list):
        if "minItems" in node and len(value) < node["minItems"]:
            raise SchemaError(f"{where} needs at least {node['minItems']} entries")
        if "maxItems" in node and len(value) > node["maxItems"]:
            raise SchemaError(f"{where} holds more than {node['maxItems']} entries")
        if "items" in node:
            for i, item in enumerate(value):
                _check(item, node["items"], root, f"{path}/{i}")
    if isinstance(value, dict):
        for key in node.get("required", ()):
            if key not in value:
                raise SchemaError(f"{where} lacks {key}")
        for key, sub in node.get("properties", {}).items():
            if key in value:
                _check(value[key], sub, root, f"{path}/{key}")
    if "anyOf" in node and not any(_passes(value, s, root, path) for s in node["anyOf"]):
        raise SchemaError(f"{where} matches none of its alternatives")
    if "oneOf" in node and sum(_passes(value, s, root, path) for s in node["oneOf"]) != 1:
        raise SchemaError(f"{where} must match exactly one of its alternatives")


def _passes(value: Any, node: dict[str, Any], root: dict[str, Any], path: str) -> bool:
    try:
        _check(value, node, root, path)
    except SchemaError:
        return False
    return True


def validate(payload: Any) -> dict[str, Any]:
    """Judge ``payload`` (already :func:`as_json`) by the schema of its own ``ver``.

    Returns the payload; SchemaError names the first rule broken.
    """
    if not isinstance(payload, dict):
        raise SchemaError("/ must be of type object")
    schema = schema_for(payload.get("ver"))
    _check(payload, schema, schema, "")
    return payload
