"""Build frozen dataclasses from TOML-shaped dicts, with errors that name the key and the source.

The schema lives in ``kiosk.config``; this module only knows how to walk a dataclass tree,
coerce values, check the limits written in each field's metadata and report problems as
``section.key: expected ..., got ... (source)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")

ENV_PREFIX = "KIOSK_"


@dataclass(frozen=True)
class ConfigProblem:
    """One problem with one key, in one source (a file name or an environment variable)."""

    key: str
    message: str
    source: str

    def __str__(self) -> str:
        where = f"{self.key}: " if self.key else ""
        return f"{where}{self.message} ({self.source})"


class ConfigError(Exception):
    """The configuration could not be loaded; ``problems`` lists every key at fault."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def setting(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    min: float | None = None,
    max: float | None = None,
    pattern: str | None = None,
    secret: bool = False,
    check: typing.Callable[[Any], str | None] | None = None,
    factory: typing.Callable[[], Any] | None = None,
) -> Any:
    """A config field: its default, a one-line description and the limits the loader enforces."""
    meta = {
        "doc": doc,
        "min": min,
        "max": max,
        "pattern": pattern,
        "secret": secret,
        "check": check,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


class _Bad(Exception):
    """A value does not fit its field; the message is the 'expected ..., got ...' part."""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _range_text(meta: Mapping[str, Any]) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and hi is not None:
        return f" {_num(lo)}-{_num(hi)}"
    if lo is not None:
        return f" >= {_num(lo)}"
    if hi is not None:
        return f" <= {_num(hi)}"
    return ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _check_range(value: float, meta: Mapping[str, Any], what: str) -> None:
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _Bad(f"expected {what}{_range_text(meta)}, got {_show(value)}")


def _coerce(tp: Any, value: Any, meta: Mapping[str, Any], from_env: bool) -> Any:
    """Turn a TOML (or environment) value into ``tp`` or raise ``_Bad``."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None or (from_env and value == ""):
            return None
        return _coerce(options[0], value, meta, from_env)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            listed = ", ".join(f'"{c}"' for c in choices)
            raise _Bad(f"expected one of {listed}, got {_show(value)}")
        return value
    if origin is tuple:
        (item_tp, _ellipsis) = get_args(tp)
        if from_env and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise _Bad(f"expected a list, got {_show(value)}")
        return tuple(_coerce(item_tp, v, {}, from_env) for v in value)
    if tp is bool:
        if from_env and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
        if not isinstance(value, bool):
            raise _Bad(f"expected true or false, got {_show(value)}")
        return value
    if tp is int:
        if from_env and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected an integer{_range_text(meta)}, got {_show(value)}")
        _check_range(value, meta, "an integer")
        return value
    if tp is float:
        if from_env and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _Bad(f"expected a number{_range_text(meta)}, got {_show(value)}")
        _check_range(float(value), meta, "a number")
        return float(value)
    if tp is str or tp is Path:
        if not isinstance(value, str):
            raise _Bad(f"expected a {'path' if tp is Path else 'string'}, got {_show(value)}")
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise _Bad(f"expected a string matching {pattern}, got {_show(value)}")
        return Path(value) if tp is Path else value
    raise TypeError(f"unsupported config field type {tp!r}")  # a schema bug, not a user error


@dataclass
class _Layer:
    """One source of values: a nested dict plus where each leaf came from."""

    values: dict[str, Any]
    source: str
    env_names: dict[str, str] = field(default_factory=dict)  # dotted key -> env var name


def build(cls: type[T], layers: list[_Layer]) -> T:
    """Build ``cls`` from layered sources (later layers win); ConfigError lists every problem."""
    problems: list[ConfigProblem] = []
    result = _build(cls, layers, "", problems)
    if problems:
        raise ConfigError(problems)
    return result


def _build(cls: type[T], layers: list[_Layer], prefix: str, problems: list[ConfigProblem]) -> T:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]  # type: ignore[arg-type]
    known = {f.name for f in fields}
    for layer in layers:
        table = _lookup(layer.values, prefix)
        if not isinstance(table, dict):
            continue
        for key in table:
            if key not in known:
                dotted = f"{prefix}{key}"
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                problems.append(ConfigProblem(dotted, f"unknown key{hint}", _source(layer, dotted)))
    kwargs: dict[str, Any] = {}
    for f in fields:
        tp = hints[f.name]
        dotted = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            for layer in layers:
                sub = _lookup(layer.values, dotted)
                if sub is not None and not isinstance(sub, dict):
                    problems.append(
                        ConfigProblem(dotted, f"expected a table, got {_show(sub)}", layer.source)
                    )
            kwargs[f.name] = _build(tp, layers, dotted + ".", problems)  # type: ignore[arg-type]
            continue
        chosen: tuple[Any, _Layer] | None = None
        for layer in layers:
            table = _lookup(layer.values, prefix)
            if isinstance(table, dict) and f.name in table:
                chosen = (table[f.name], layer)
        if chosen is None:
            continue  # the dataclass default applies
        raw, layer = chosen
        try:
            value = _coerce(tp, raw, f.metadata, from_env=bool(layer.env_names))
            check = f.metadata.get("check")
            if check is not None and value is not None and (msg := check(value)):
                raise _Bad(msg)
        except _Bad as bad:
            problems.append(ConfigProblem(dotted, str(bad), _source(layer, dotted)))
            continue
        kwargs[f.name] = value
    if problems:
        return None  # type: ignore[return-value]  # never used: build() raises
    try:
        return cls(**kwargs)
    except ValueError as exc:  # cross-field checks in __post_init__
        problems.append(ConfigProblem(prefix.rstrip("."), str(exc), layers[0].source))
        return None  # type: ignore[return-value]


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in [p for p in dotted.rstrip(".").split(".") if p]:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _source(layer: _Layer, dotted: str) -> str:
    name = layer.env_names.get(dotted)
    return f"env {name}" if name else layer.source


def file_layer(path: Path) -> _Layer:
    """Read a TOML file; unreadable or malformed files raise ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read: {exc.strerror}", str(path))]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem("", "not UTF-8 text", str(path))]) from exc
    try:
        return _Layer(tomllib.loads(text), path.name)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem("", f"invalid TOML: {exc}", path.name)]) from exc


def env_layer(environ: Mapping[str, str], prefix: str = ENV_PREFIX) -> _Layer:
    """Collect ``KIOSK_<SECTION>__<KEY>`` overrides (nested tables add more ``__`` parts).

    Another service built on this loader passes its own ``prefix`` (``COUNTY_``).
    """
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(prefix) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(prefix) :].split("__")]
        if not all(parts):
            continue
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = raw
            names[".".join(parts)] = name
    return _Layer(values, "environment", names)


def parse_values(
    cls: type[T],
    values: Mapping[str, Any],
    source: str,
    environ: Mapping[str, str] | None,
    env_prefix: str = ENV_PREFIX,
) -> T:
    """``cls`` from a TOML-shaped dict plus optional ``{env_prefix}SECTION__KEY`` overrides;
    its ``source`` field names where it came from."""
    layers = [_Layer(dict(values), source)]
    if environ is not None:
        layers.append(env_layer(environ, env_prefix))
    return dataclasses.replace(build(cls, layers), source=source)  # type: ignore[type-var]


def load_file(
    cls: type[T], path: Path, environ: Mapping[str, str], env_prefix: str = ENV_PREFIX
) -> T:
    """``cls`` from the TOML file at ``path`` with the environment's overrides on top."""
    config = build(cls, [file_layer(path), env_layer(environ, env_prefix)])
    return dataclasses.replace(config, source=str(path))  # type: ignore[type-var]


def describe(obj: Any, prefix: str = "") -> dict[str, Any]:
    """The effective config as a nested dict, secrets masked, paths as strings."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = describe(value, f"{prefix}{f.name}.")
        elif f.metadata.get("secret") and value:
            out[f.name] = "********"
        elif isinstance(value, Path):
            out[f.name] = str(value)
        elif isinstance(value, tuple):
            out[f.name] = [str(v) if isinstance(v, Path) else v for v in value]
        else:
            out[f.name] = value
    return out


def reference(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(table, key, default, description) for every setting of ``cls``, nested tables included."""
    rows: list[tuple[str, str, str, str]] = []
    nested: list[tuple[str, type]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            nested.append((f"{prefix}{f.name}", tp))  # type: ignore[arg-type]
            continue
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        shown = (
            "(unset)"
            if default is None
            else json.dumps(
                list(default)
                if isinstance(default, tuple)
                else str(default)
                if isinstance(default, Path)
                else default,
                ensure_ascii=False,
            )
        )
        doc = f.metadata.get("doc", "")
        limits = _range_text(f.metadata).strip()
        if limits:
            doc += f" ({limits})"
        if f.metadata.get("secret"):
            doc += " — secret, masked in `kiosk config check`"
        rows.append((prefix.rstrip("."), f.name, shown, doc))
    for name, tp in nested:
        rows += reference(tp, f"{name}.")
    return rows
