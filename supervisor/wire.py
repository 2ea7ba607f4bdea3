"""Frozen dataclasses to and from JSON values: the one codec for every message in protocol.py.

Decoding is tolerant where the protocol promises it (unknown fields are ignored,
missing ones take the field's default) and strict about types, so a message
that decodes is a message mypy's types describe. A value of the wrong type
raises ``WireError``; the reader logs and skips that message.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")
Decoder = Callable[[Any], Any]


class WireError(ValueError):
    """A value does not have the type its message declares."""


def to_wire(value: Any) -> Any:
    """A dataclass (and what it holds) as plain JSON values; enums become their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def from_wire(kind: type[T], data: Any) -> T:
    """Build ``kind`` (a dataclass) from what ``to_wire`` made of one; raise WireError."""
    decoder: Decoder = _decoder(cast(Hashable, kind))
    result: T = decoder(data)
    return result


@functools.cache
def _decoder(kind: Any) -> Decoder:
    if dataclasses.is_dataclass(kind):
        return _dataclass_decoder(kind)
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _optional_decoder(args)
    if origin is tuple:
        return _sequence_decoder(_decoder(args[0]), tuple)
    if origin is list:
        return _sequence_decoder(_decoder(args[0]), list)
    if origin is dict:
        return _dict_decoder(_decoder(args[1]))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum_decoder(kind)
    if kind is Any:
        return lambda value: value
    if kind in (int, float, str, bool):
        return _scalar_decoder(kind)
    raise TypeError(f"no wire decoder for {kind!r}")


def _dataclass_decoder(kind: Any) -> Decoder:
    hints = typing.get_type_hints(kind)
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(kind) if f.init]

    def decode(value: Any) -> Any:
        if not isinstance(value, dict):
            raise WireError(f"{kind.__name__}: expected an object, got {type(value).__name__}")
        given = {}
        for name, field_decoder in fields:
            if name in value:
                try:
                    given[name] = field_decoder(value[name])
                except WireError as exc:
                    raise WireError(f"{kind.__name__}.{name}: {exc}") from None
        try:
            return kind(**given)
        except TypeError as exc:  # a field without a default is missing
            raise WireError(f"{kind.__name__}: {exc}") from None

    return decode


def _optional_decoder(args: tuple[Any, ...]) -> Decoder:
    others = [a for a in args if a is not type(None)]
    if len(others) != 1 or len(args) != 2:
        raise TypeError(f"only `X | None` unions are supported, not {args!r}")
    inner = _decoder(others[0])
    return lambda value: None if value is None else inner(value)


def _sequence_decoder(item: Decoder, build: Callable[[Any], Any]) -> Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, list):
            raise WireError(f"expected a list, got {type(value).__name__}")
        return build(item(v) for v in value)

    return decode


def _dict_decoder(item: Decoder) -> Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, dict):
            raise WireError(f"expected an object, got {type(value).__name__}")
        return {str(k): item(v) for k, v in value.items()}

    return decode


def _enum_decoder(kind: type[enum.Enum]) -> Decoder:
    def decode(value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise WireError(f"{value!r} is not a {kind.__name__}") from None

    return decode


def _scalar_decoder(kind: type) -> Decoder:
    def decode(value: Any) -> Any:
        # JSON has one number type: an int is a fine float, a bool is neither.
        if isinstance(value, bool) and kind is not bool:
            raise WireError(f"expected {kind.__name__}, got a boolean")
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            raise WireError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return decode
