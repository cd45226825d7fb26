"""Typed configs: dataclasses validated once where they enter, loaded from and saved to YAML.

Validation collects every problem and raises one :class:`ConfigError` that names the field,
the value and the rule (optuna's style: "`low <= high` must hold, but got (low=3, high=1)").
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from core.errors import ConfigError

T = TypeVar("T")

MAX_CONFIG_BYTES = 1_000_000


class Problems:
    """Accumulates validation problems; :meth:`raise_if_any` raises them all at once."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.items.append(message)

    def raise_if_any(self) -> None:
        if self.items:
            listing = "\n".join(f"  - {item}" for item in self.items)
            raise ConfigError(f"Invalid {self.what} ({len(self.items)} problem(s)):\n{listing}")


def _coerce(name: str, value: Any, hint: Any, problems: Problems) -> Any:
    """Check ``value`` against a (simple) type hint, converting int->float where natural."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = Problems("")
        for arg in args:
            if arg is type(None):
                continue
            sub = Problems("")
            out = _coerce(name, value, arg, sub)
            if not sub.items:
                return out
            errors.items.extend(sub.items)
        problems.add(f"`{name}` has the wrong type: got {value!r}, expected {hint}")
        return value
    if origin is typing.Literal:
        if value not in args:
            problems.add(f"`{name}` must be one of {', '.join(map(repr, args))}, but got {value!r}")
        return value
    if origin is None and hint in (list, tuple, dict):
        origin = hint  # bare `list` / `dict` annotations
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            problems.add(f"`{name}` must be a list, but got {value!r}")
            return value
        inner = args[0] if args else Any
        items = [_coerce(f"{name}[{i}]", v, inner, problems) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            problems.add(f"`{name}` must be a mapping, but got {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            problems.add(f"`{name}` must be a mapping, but got {value!r}")
            return value
        try:
            return from_dict(hint, value, what=name)
        except ConfigError as exc:
            lines = str(exc).splitlines()[1:] or [str(exc)]
            problems.items.extend(f"in `{name}`: {line.strip().removeprefix('- ')}" for line in lines)
            return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(f"`{name}` must be a number, but got {value!r}")
            return value
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(f"`{name}` must be an integer, but got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            problems.add(f"`{name}` must be true or false, but got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            problems.add(f"`{name}` must be a string, but got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: Any, what: str | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, listing unknown keys and type errors together.

    The dataclass's own ``validate()`` (if any) runs afterwards and adds its rule checks.
    """
    label = what or cls.__name__
    problems = Problems(label)
    if not isinstance(data, dict):
        raise ConfigError(f"Invalid {label}: expected a mapping of field: value, got {type(data).__name__}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            problems.add(f"unknown field `{key}`; known fields: {', '.join(sorted(fields))}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _coerce(name, data[name], hints[name], problems)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            problems.add(f"missing required field `{name}`")
    problems.raise_if_any()
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def rename_aliases(values: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """``values`` with alias keys renamed to the field names they stand for (in order: a later key wins)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[aliases.get(key, key)] = value
    return out


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass -> plain dict (JSON/YAML-ready)."""
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))


def read_structured(path: str | os.PathLike[str], what: str = "config file") -> Any:
    """Read YAML or JSON from a file with size and syntax checks; errors name the file and line."""
    import yaml

    p = Path(path)
    try:
        if not p.is_file():
            raise ConfigError(f"{what} {p} does not exist or is not a file.")
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what} {p} is {size} bytes; the limit is {MAX_CONFIG_BYTES}. Is this the right file?")
        with p.open("rb") as handle:  # bounded: /proc and other special files report size 0
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{what} {str(p)[:200]} cannot be read ({exc.strerror or exc}); pass a regular YAML or JSON file.") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} {p} is over the {MAX_CONFIG_BYTES}-byte limit. Is this the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from exc
    return parse_structured(text, what=f"{what} {p}", json_only=p.suffix.lower() == ".json")


def parse_structured(text: str, what: str = "input", json_only: bool = False) -> Any:
    """Parse YAML (a superset of JSON) or strict JSON from text; errors say where."""
    import yaml

    try:
        if json_only:
            return json.loads(text)
        return yaml.safe_load(text)
    except RecursionError as exc:
        raise ConfigError(f"{what} is nested too deeply to read.") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{what} is not valid YAML{where}: {getattr(exc, 'problem', exc)}.") from exc
    except ValueError as exc:
        raise ConfigError(f"{what} could not be parsed: {exc}.") from exc


def load_config(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Load and validate a typed config from a YAML or JSON file."""
    data = read_structured(path, what=f"{cls.__name__} file")
    return from_dict(cls, data if data is not None else {}, what=f"{cls.__name__} ({path})")


def dump_yaml(obj: Any, header: str | None = None) -> str:
    """Serialise a dataclass (or dict) to YAML, optionally with a leading comment."""
    import yaml

    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text
