from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("user_id", "email", "name", "roles", "disabled")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    disabled: bool
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., disabled: _Optional[bool] = ...) -> None: ...

class GetAddressRequest(_message.Message):
    __slots__ = ("user_id", "address_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    address_id: str
    def __init__(self, user_id: _Optional[str] = ..., address_id: _Optional[str] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("address_id", "user_id", "full_name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
    ADDRESS_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    LINE1_FIELD_NUMBER: _ClassVar[int]
    LINE2_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    address_id: str
    user_id: str
    full_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str
    def __init__(self, address_id: _Optional[str] = ..., user_id: _Optional[str] = ..., full_name: _Optional[str] = ..., line1: _Optional[str] = ..., line2: _Optional[str] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class ListEndedSessionsRequest(_message.Message):
    __slots__ = ("ended_after_us", "after_session_id", "page_size")
    ENDED_AFTER_US_FIELD_NUMBER: _ClassVar[int]
    AFTER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ended_after_us: int
    after_session_id: str
    page_size: int
    def __init__(self, ended_after_us: _Optional[int] = ..., after_session_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class EndedSession(_message.Message):
    __slots__ = ("session_id", "user_id", "ended_at_us", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_US_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    ended_at_us: int
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., ended_at_us: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ListEndedSessionsResponse(_message.Message):
    __slots__ = ("sessions", "has_more", "server_time_us")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_US_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[EndedSession]
    has_more: bool
    server_time_us: int
    def __init__(self, sessions: _Optional[_Iterable[_Union[EndedSession, _Mapping]]] = ..., has_more: _Optional[bool] = ..., server_time_us: _Optional[int] = ...) -> None: ...
