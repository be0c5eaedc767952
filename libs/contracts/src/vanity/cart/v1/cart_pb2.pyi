from vanity.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StockState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOCK_STATE_UNSPECIFIED: _ClassVar[StockState]
    STOCK_STATE_IN_STOCK: _ClassVar[StockState]
    STOCK_STATE_LOW: _ClassVar[StockState]
    STOCK_STATE_OUT_OF_STOCK: _ClassVar[StockState]
STOCK_STATE_UNSPECIFIED: StockState
STOCK_STATE_IN_STOCK: StockState
STOCK_STATE_LOW: StockState
STOCK_STATE_OUT_OF_STOCK: StockState

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
    __slots__ = ("sku", "quantity", "priced", "product_name", "variant_name", "image_url", "unit_price", "line_total", "on_sale", "stock_known", "stock_state", "buyable_quantity", "brand_name", "product_slug")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICED_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    VARIANT_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    LINE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ON_SALE_FIELD_NUMBER: _ClassVar[int]
    STOCK_KNOWN_FIELD_NUMBER: _ClassVar[int]
    STOCK_STATE_FIELD_NUMBER: _ClassVar[int]
    BUYABLE_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    BRAND_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_SLUG_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    priced: bool
    product_name: str
    variant_name: str
    image_url: str
    unit_price: _common_pb2.Money
    line_total: _common_pb2.Money
    on_sale: bool
    stock_known: bool
    stock_state: StockState
    buyable_quantity: int
    brand_name: str
    product_slug: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., priced: _Optional[bool] = ..., product_name: _Optional[str] = ..., variant_name: _Optional[str] = ..., image_url: _Optional[str] = ..., unit_price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., line_total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., on_sale: _Optional[bool] = ..., stock_known: _Optional[bool] = ..., stock_state: _Optional[_Union[StockState, str]] = ..., buyable_quantity: _Optional[int] = ..., brand_name: _Optional[str] = ..., product_slug: _Optional[str] = ...) -> None: ...

class Cart(_message.Message):
    __slots__ = ("user_id", "lines", "version", "locked_by", "subtotal", "item_count", "degraded")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    lines: _containers.RepeatedCompositeFieldContainer[CartLine]
    version: int
    locked_by: str
    subtotal: _common_pb2.Money
    item_count: int
    degraded: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[CartLine, _Mapping]]] = ..., version: _Optional[int] = ..., locked_by: _Optional[str] = ..., subtotal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., item_count: _Optional[int] = ..., degraded: _Optional[_Iterable[str]] = ...) -> None: ...
