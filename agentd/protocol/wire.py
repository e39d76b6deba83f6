"""The Host's types as JSON and back: specs, events, unit states, output records.

Decoding is driven by each dataclass's own field types, and is strict: what a
peer sends is checked as carefully as a request from anyone (a remote host
gone wrong must not crash apsisd, nor an apsisd gone wrong agentd). Times
travel as ISO 8601 with their offset, bytes as base64, mappings as objects,
tuples as arrays.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Hashable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from agentd.protocol.frames import ProtocolError

T = TypeVar("T")


def to_plain(value: Any) -> Any:
    """`value` as JSON's types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"a time without its offset cannot be sent: {value}")
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    return value


def from_plain(kind: type[T], data: Any, where: str) -> T:
    """The `kind` dataclass that `data` describes; ProtocolError naming `where` and the field if it does not."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: expected an object, got {_named(data)}")
    hints = _hints(typing.cast(Hashable, kind))
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ProtocolError(f"{where}: unknown fields {sorted(unknown)}")
    values = {name: _value(hints[name], data[name], f"{where}.{name}") for name in data}
    try:
        return kind(**values)
    except TypeError as exc:  # a field without a default is missing
        raise ProtocolError(f"{where}: {exc}") from None


def moment_from_plain(data: Any, where: str) -> datetime:
    """A time as sent (ISO 8601 with its offset)."""
    return typing.cast(datetime, _scalar(datetime, data, where))


@functools.cache
def _hints(kind: Hashable) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _value(hint: Any, data: Any, where: str) -> Any:
    supertype = getattr(hint, "__supertype__", None)
    if supertype is not None:  # a NewType (RunId): its base
        return _value(supertype, data, where)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint), data, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_plain(hint, data, where)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_value(item, v, f"{where}[{i}]") for i, v in enumerate(_expect(list, data, where)))
    if origin in (Mapping, dict) or hint is Mapping:
        value_hint = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        mapping = _expect(dict, data, where)
        return types.MappingProxyType({k: _value(value_hint, v, f"{where}.{k}") for k, v in mapping.items()})
    return _scalar(hint, data, where)


def _union(members: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None:
        if type(None) in members:
            return None
        raise ProtocolError(f"{where}: must not be null")
    problems = []
    for member in members:
        if member is type(None):
            continue
        try:
            return _value(member, data, where)
        except ProtocolError as exc:
            problems.append(str(exc))
    raise ProtocolError("; ".join(problems))


def _scalar(hint: Any, data: Any, where: str) -> Any:
    if hint is Any:
        return data
    if hint is datetime:
        try:
            moment = datetime.fromisoformat(_expect(str, data, where))
        except ValueError:
            raise ProtocolError(f"{where}: {data!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise ProtocolError(f"{where}: {data!r} has no offset")
        return moment
    if hint is bytes:
        try:
            return base64.b64decode(_expect(str, data, where), validate=True)
        except binascii.Error:
            raise ProtocolError(f"{where}: not base64") from None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            raise ProtocolError(f"{where}: {data!r} is not one of {[m.value for m in hint]}") from None
    if hint is float:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
        raise ProtocolError(f"{where}: expected a number, got {_named(data)}")
    if hint in (str, int, bool):
        return _expect(hint, data, where)
    raise TypeError(f"{where}: no wire form for {hint!r}")


def _expect(kind: type[T], data: Any, where: str) -> T:
    if isinstance(data, kind) and not (kind is int and isinstance(data, bool)):
        return data
    raise ProtocolError(f"{where}: expected {kind.__name__}, got {_named(data)}")


def _named(data: Any) -> str:
    return "null" if data is None else type(data).__name__
