import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StockLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOCK_LEVEL_UNSPECIFIED: _ClassVar[StockLevel]
    STOCK_LEVEL_IN_STOCK: _ClassVar[StockLevel]
    STOCK_LEVEL_LOW: _ClassVar[StockLevel]
    STOCK_LEVEL_OUT_OF_STOCK: _ClassVar[StockLevel]

class ReservationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVATION_STATUS_UNSPECIFIED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_ACTIVE: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_COMMITTED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_RELEASED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_EXPIRED: _ClassVar[ReservationStatus]
STOCK_LEVEL_UNSPECIFIED: StockLevel
STOCK_LEVEL_IN_STOCK: StockLevel
STOCK_LEVEL_LOW: StockLevel
STOCK_LEVEL_OUT_OF_STOCK: StockLevel
RESERVATION_STATUS_UNSPECIFIED: ReservationStatus
RESERVATION_STATUS_ACTIVE: ReservationStatus
RESERVATION_STATUS_COMMITTED: ReservationStatus
RESERVATION_STATUS_RELEASED: ReservationStatus
RESERVATION_STATUS_EXPIRED: ReservationStatus

class GetAvailabilityRequest(_message.Message):
    __slots__ = ("skus",)
    SKUS_FIELD_NUMBER: _ClassVar[int]
    skus: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, skus: _Optional[_Iterable[str]] = ...) -> None: ...

class SkuAvailability(_message.Message):
    __slots__ = ("sku", "known", "available", "level")
    SKU_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    sku: str
    known: bool
    available: int
    level: StockLevel
    def __init__(self, sku: _Optional[str] = ..., known: _Optional[bool] = ..., available: _Optional[int] = ..., level: _Optional[_Union[StockLevel, str]] = ...) -> None: ...

class GetAvailabilityResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[SkuAvailability]
    def __init__(self, items: _Optional[_Iterable[_Union[SkuAvailability, _Mapping]]] = ...) -> None: ...

class ReservationLine(_message.Message):
    __slots__ = ("sku", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("order_id", "lines", "ttl_seconds")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[ReservationLine]
    ttl_seconds: int
    def __init__(self, order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[ReservationLine, _Mapping]]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RestockRequest(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetReservationRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ("reservation_id", "order_id", "status", "lines", "expires_at")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    order_id: str
    status: ReservationStatus
    lines: _containers.RepeatedCompositeFieldContainer[ReservationLine]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, reservation_id: _Optional[str] = ..., order_id: _Optional[str] = ..., status: _Optional[_Union[ReservationStatus, str]] = ..., lines: _Optional[_Iterable[_Union[ReservationLine, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
