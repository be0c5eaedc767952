from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetCartRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class LockCartRequest(_message.Message):
    __slots__ = ("user_id", "checkout_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    checkout_id: str
    def __init__(self, user_id: _Optional[str] = ..., checkout_id: _Optional[str] = ...) -> None: ...

class UnlockCartRequest(_message.Message):
    __slots__ = ("user_id", "checkout_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    checkout_id: str
    def __init__(self, user_id: _Optional[str] = ..., checkout_id: _Optional[str] = ...) -> None: ...

class ClearCartRequest(_message.Message):
    __slots__ = ("user_id", "checkout_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    checkout_id: str
    def __init__(self, user_id: _Optional[str] = ..., checkout_id: _Optional[str] = ...) -> None: ...

class CartLine(_message.Message):
    __slots__ = ("sku", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class Cart(_message.Message):
    __slots__ = ("user_id", "lines", "version", "locked_by")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    lines: _containers.RepeatedCompositeFieldContainer[CartLine]
    version: int
    locked_by: str
    def __init__(self, user_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[CartLine, _Mapping]]] = ..., version: _Optional[int] = ..., locked_by: _Optional[str] = ...) -> None: ...
