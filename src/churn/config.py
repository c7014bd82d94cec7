"""Typed settings from plain mappings: one builder and one unknown-key check for every config class.

The pipelines turn Hydra's config nodes into plain dicts; every settings class of the library
(``*Config``) is a frozen dataclass built from such a dict by :meth:`Config.from_mapping`:

* keys that are not fields are refused, naming the section (``label: unknown keys [...]``);
* values are converted to the field's declared type where that is lossless (a list to a tuple,
  an int to a float), and a value that cannot be (``offers.budget=abc``) is refused with the
  section, the key, what was expected and what came in;
* the class's own ``validate`` then checks the rules between values (thresholds ascending, ...).

Classes whose config node is nested override ``from_mapping`` and call :func:`build` with the
flattened values.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self, TypeVar, Union

from churn.errors import ConfigError

T = TypeVar("T")


def check_keys(where: str, given: Iterable[object], known: Iterable[str]) -> None:
    """Raise ConfigError naming the keys of a config node that are not among ``known``."""
    expected = sorted(known)
    unknown = sorted(set(map(str, given)) - set(expected))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {expected}")


def build(cls: type[T], values: Mapping[str, Any], *, where: str) -> T:
    """The dataclass ``cls`` from ``values``: known keys only, each converted to its field's type.

    Raises:
        ConfigError: an unknown key, or a value that is not of (or losslessly convertible to) the
            field's declared type.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    check_keys(where, values, fields)
    hints = typing.get_type_hints(cls)
    converted = {
        name: convert(f"{where}.{name}", value, hints[name]) for name, value in values.items()
    }
    return cls(**converted)


def convert(where: str, value: Any, kind: Any) -> Any:
    """``value`` as the declared type ``kind`` where that is lossless; other values unchanged.

    Numbers: an int or a numeric string becomes a float for a float field; a bool is never a
    number. Sequences: a list becomes a tuple, each item converted. Optional fields accept None.
    Anything else (ints, strings, mappings) is passed on for the class's ``validate``.

    Raises:
        ConfigError: a float field given something that is not a number, or a tuple field given
            something that is not a list.
    """
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None:
            return None
        return convert(where, value, options[0]) if len(options) == 1 else value
    if kind is float:
        return _number(where, value)
    if origin is tuple:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise ConfigError(f"{where}: expected a list; got {value!r}")
        args = typing.get_args(kind)
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        items = list(value)
        return tuple(items if item is None else (convert(where, v, item) for v in items))
    return value


def whole_number(where: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an int, refusing anything that is not a whole number (or below ``minimum``).

    Raises:
        ConfigError: naming ``where``, what was expected and what came in.
    """
    floor = "" if minimum is None else f" >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where}: expected a whole number{floor}; got {value!r}")
    try:
        number = float(value)
    except ValueError as err:
        raise ConfigError(f"{where}: expected a whole number{floor}; got {value!r}") from err
    if not number.is_integer() or (minimum is not None and number < minimum):
        raise ConfigError(f"{where}: expected a whole number{floor}; got {value!r}")
    return int(number)


def _number(where: str, value: Any) -> Any:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a finite number; got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if value.strip() and not math.isnan(number):
            return number
    raise ConfigError(f"{where}: expected a finite number; got {value!r}")


class Config:
    """Base of the settings dataclasses: ``from_mapping`` builds, converts and validates.

    Subclasses set ``section`` (the config node's name, used in messages) and may define
    ``validate(self)`` for the rules between values.
    """

    section: ClassVar[str] = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build from a plain config mapping and validate (ConfigError on any bad value)."""
        config = build(cls, values, where=cls.section or cls.__name__)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError for values that cannot work together (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready mapping (tuples as lists) that ``from_mapping`` accepts."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
