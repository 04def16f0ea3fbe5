"""Typed, frozen configs that round-trip through plain dicts and TOML exactly."""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from aerec.errors import ConfigError

C = TypeVar("C")


OMIT_DEFAULT = {"omit_default": True}
"""Field metadata: :func:`to_dict` leaves the field out at its default value. A field added
later, whose default is the behaviour before it, keeps every existing config's dict (and so
its run id) as it was."""


def to_dict(config: Any) -> dict[str, Any]:
    """A TOML-friendly dict: tuples become lists, None values are left out (and fields marked
    :data:`OMIT_DEFAULT` at their default)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value is None or (f.metadata.get("omit_default") and value == f.default):
            continue
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def from_dict(cls: type[C], values: dict[str, Any], where: str = "config") -> C:
    """Build ``cls`` from a dict; unknown keys and wrong types are one-line ConfigErrors."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in {where}; valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value, f"{where}.{key}")
        elif isinstance(value, list):
            value = tuple(value)
        _check_type(key, value, hint, where)
        kwargs[key] = value
    return cls(**kwargs)


def _check_type(key: str, value: Any, hint: Any, where: str) -> None:
    allowed = (
        typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _UnionType) else (hint,)
    )
    for t in allowed:
        origin = typing.get_origin(t) or t
        if t is type(None) and value is None:
            return
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{where}.{key} = {value!r} must be a finite number")
            return
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if origin is tuple and isinstance(value, tuple):
            items = typing.get_args(t)[:1]
            if not items or all(_is(v, items[0]) for v in value):
                if any(isinstance(v, float) and not math.isfinite(v) for v in value):
                    raise ConfigError(f"{where}.{key} = {value!r} must hold finite numbers")
                return
        elif origin in (str, bool) and isinstance(value, origin):
            return
        if dataclasses.is_dataclass(origin) and isinstance(value, origin):
            return
    raise ConfigError(f"{where}.{key} = {value!r} has the wrong type; expected {hint}")


_UnionType = type(int | None)


def _is(value: Any, kind: Any) -> bool:
    """``value`` is a ``kind`` (int or float, never a bool; other kinds by isinstance)."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; a UTF-8 byte-order mark is allowed (Windows editors add one)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid TOML: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def dumps_toml(values: dict[str, Any]) -> str:
    return tomli_w.dumps(values)
