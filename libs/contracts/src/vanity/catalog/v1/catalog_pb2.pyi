from vanity.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetVariantsRequest(_message.Message):
    __slots__ = ("skus",)
    SKUS_FIELD_NUMBER: _ClassVar[int]
    skus: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, skus: _Optional[_Iterable[str]] = ...) -> None: ...

class Variant(_message.Message):
    __slots__ = ("sku", "product_id", "product_slug", "product_name", "brand_name", "variant_name", "price", "active", "image_url")
    SKU_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_SLUG_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    BRAND_NAME_FIELD_NUMBER: _ClassVar[int]
    VARIANT_NAME_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    sku: str
    product_id: str
    product_slug: str
    product_name: str
    brand_name: str
    variant_name: str
    price: _common_pb2.Money
    active: bool
    image_url: str
    def __init__(self, sku: _Optional[str] = ..., product_id: _Optional[str] = ..., product_slug: _Optional[str] = ..., product_name: _Optional[str] = ..., brand_name: _Optional[str] = ..., variant_name: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., active: _Optional[bool] = ..., image_url: _Optional[str] = ...) -> None: ...

class GetVariantsResponse(_message.Message):
    __slots__ = ("variants", "unknown_skus")
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_SKUS_FIELD_NUMBER: _ClassVar[int]
    variants: _containers.RepeatedCompositeFieldContainer[Variant]
    unknown_skus: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, variants: _Optional[_Iterable[_Union[Variant, _Mapping]]] = ..., unknown_skus: _Optional[_Iterable[str]] = ...) -> None: ...
