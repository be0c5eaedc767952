"""Copying same-named fields between a service's views (dataclasses), protobuf messages and
database rows: the translation a port, a servicer or a repository does field by field, written
once. Only what differs (a renamed field, a conversion) is spelled out, as keyword arguments.

    address = view_from(Address, message)                    # a port: message -> view
    message_from(pb.Address, address, address_id=address.id)  # a servicer: view -> message
    json_fields(address, exclude=("user_id",))                 # REST: view -> JSON body

and a port's view of another service's enum, taken from the contract instead of copied:

    PaymentStatus = contract_enum("PaymentStatus", payments_pb2.PaymentStatus, "PAYMENT_STATUS_")
    PaymentStatus.CAPTURED == "captured"; from_contract(PaymentStatus, message.status)
"""

from __future__ import annotations

import sys
from dataclasses import fields
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

T = TypeVar("T")
M = TypeVar("M", bound=Message)
E = TypeVar("E", bound=StrEnum)


def view_from(view_type: type[T], source: Any, **given: Any) -> T:
    """A `view_type` (dataclass) whose fields are read from the same-named attributes of `source`
    (a protobuf message, a row, another view); `given` overrides or supplies fields. A field
    `source` lacks keeps its default (or, without one, the constructor says so)."""
    values = dict(given)
    for f in fields(view_type):  # type: ignore[arg-type]
        if f.init and f.name not in values and hasattr(source, f.name):
            values[f.name] = getattr(source, f.name)
    return view_type(**values)


def message_from(message_type: type[M], source: Any, **given: Any) -> M:
    """A protobuf `message_type` whose fields are read from the same-named attributes of
    `source` (a view); `given` overrides or supplies fields. None stays unset (proto3 has no
    null), and so does a field `source` lacks."""
    values = dict(given)
    for name in message_type.DESCRIPTOR.fields_by_name:
        if name not in values and getattr(source, name, None) is not None:
            values[name] = getattr(source, name)
    return message_type(**values)


def json_fields(view: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a dataclass `view` for a JSON body, times as ISO 8601."""
    return {
        f.name: _json_value(getattr(view, f.name)) for f in fields(view) if f.name not in exclude
    }


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


_CONTRACT_ENUMS: dict[type[StrEnum], tuple[EnumTypeWrapper, str]] = {}


def contract_enum(name: str, proto_enum: EnumTypeWrapper, prefix: str) -> type[StrEnum]:
    """A StrEnum with one member per value of a contract's enum, named without `prefix` and
    valued in lower case (`PAYMENT_STATUS_CAPTURED` -> `CAPTURED = "captured"`). A value the
    other service adds to its contract needs no copy in the caller."""
    names = [v.name.removeprefix(prefix) for v in proto_enum.DESCRIPTOR.values]
    # Named after the caller's module, as a class statement there would be (repr, pickling).
    module = sys._getframe(1).f_globals.get("__name__")
    enum_type = StrEnum(name, {n: n.lower() for n in names}, module=module)
    _CONTRACT_ENUMS[enum_type] = (proto_enum, prefix)
    return enum_type


def from_contract(enum_type: type[E], number: int) -> E:
    """The member of a `contract_enum` for a message's value; a number this build does not know
    (a newer peer) is the contract's value 0, `..._UNSPECIFIED`."""
    proto_enum, prefix = _CONTRACT_ENUMS[enum_type]
    try:
        name = proto_enum.Name(number)
    except ValueError:
        name = proto_enum.Name(0)
    return enum_type[name.removeprefix(prefix)]
