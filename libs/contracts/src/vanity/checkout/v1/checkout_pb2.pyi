import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vanity.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_PENDING: _ClassVar[OrderStatus]
    ORDER_STATUS_AWAITING_PAYMENT: _ClassVar[OrderStatus]
    ORDER_STATUS_CONFIRMED: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELLED: _ClassVar[OrderStatus]
    ORDER_STATUS_FAILED: _ClassVar[OrderStatus]
    ORDER_STATUS_REFUNDED: _ClassVar[OrderStatus]
    ORDER_STATUS_PARTIALLY_REFUNDED: _ClassVar[OrderStatus]
    ORDER_STATUS_SHIPPED: _ClassVar[OrderStatus]

class PaymentOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_OUTCOME_UNSPECIFIED: _ClassVar[PaymentOutcome]
    PAYMENT_OUTCOME_SUCCEEDED: _ClassVar[PaymentOutcome]
    PAYMENT_OUTCOME_FAILED: _ClassVar[PaymentOutcome]
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_PENDING: OrderStatus
ORDER_STATUS_AWAITING_PAYMENT: OrderStatus
ORDER_STATUS_CONFIRMED: OrderStatus
ORDER_STATUS_CANCELLED: OrderStatus
ORDER_STATUS_FAILED: OrderStatus
ORDER_STATUS_REFUNDED: OrderStatus
ORDER_STATUS_PARTIALLY_REFUNDED: OrderStatus
ORDER_STATUS_SHIPPED: OrderStatus
PAYMENT_OUTCOME_UNSPECIFIED: PaymentOutcome
PAYMENT_OUTCOME_SUCCEEDED: PaymentOutcome
PAYMENT_OUTCOME_FAILED: PaymentOutcome

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class OrderLine(_message.Message):
    __slots__ = ("sku", "name", "quantity", "unit_price")
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    name: str
    quantity: int
    unit_price: _common_pb2.Money
    def __init__(self, sku: _Optional[str] = ..., name: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "user_id", "status", "lines", "total", "payment_id", "created_at", "failure_reason", "client_secret", "tracking", "refunded")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    TRACKING_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    user_id: str
    status: OrderStatus
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    total: _common_pb2.Money
    payment_id: str
    created_at: _timestamp_pb2.Timestamp
    failure_reason: str
    client_secret: str
    tracking: Tracking
    refunded: _common_pb2.Money
    def __init__(self, order_id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payment_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_reason: _Optional[str] = ..., client_secret: _Optional[str] = ..., tracking: _Optional[_Union[Tracking, _Mapping]] = ..., refunded: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class Tracking(_message.Message):
    __slots__ = ("tracking_number", "carrier")
    TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    tracking_number: str
    carrier: str
    def __init__(self, tracking_number: _Optional[str] = ..., carrier: _Optional[str] = ...) -> None: ...

class ReportPaymentOutcomeRequest(_message.Message):
    __slots__ = ("order_id", "payment_id", "outcome", "provider_event_id", "failure_reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    payment_id: str
    outcome: PaymentOutcome
    provider_event_id: str
    failure_reason: str
    def __init__(self, order_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., outcome: _Optional[_Union[PaymentOutcome, str]] = ..., provider_event_id: _Optional[str] = ..., failure_reason: _Optional[str] = ...) -> None: ...
