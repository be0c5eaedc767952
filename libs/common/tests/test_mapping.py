"""vanity_common.mapping: same-named fields between views, protobuf messages and rows, and the
contract's enums as StrEnums."""

from dataclasses import dataclass
from datetime import UTC, datetime

from vanity.identity.v1 import identity_pb2
from vanity.payments.v1 import payments_pb2
from vanity_common.mapping import (
    contract_enum,
    from_contract,
    json_fields,
    message_from,
    view_from,
)


@dataclass(frozen=True)
class AddressView:
    address_id: str
    city: str
    country: str
    note: str = "none"  # not in the message: keeps its default


def test_a_view_reads_same_named_fields_and_takes_the_rest_as_given():
    message = identity_pb2.Address(address_id="a1", city="Paris", country="FR", phone="1")
    assert view_from(AddressView, message) == AddressView("a1", "Paris", "FR")
    assert view_from(AddressView, message, city="Lyon").city == "Lyon"


@dataclass(frozen=True)
class StoredAddress:
    id: str
    city: str
    region: str | None
    created_at: datetime


def test_a_message_takes_the_fields_it_declares_and_leaves_none_unset():
    stored = StoredAddress("a1", "Paris", None, datetime(2026, 1, 1, tzinfo=UTC))
    message = message_from(identity_pb2.Address, stored, address_id=stored.id)
    assert (message.address_id, message.city, message.region) == ("a1", "Paris", "")


def test_json_fields_writes_times_as_iso_8601_and_leaves_out_what_is_excluded():
    stored = StoredAddress("a1", "Paris", None, datetime(2026, 1, 1, tzinfo=UTC))
    assert json_fields(stored, exclude=("region",)) == {
        "id": "a1",
        "city": "Paris",
        "created_at": "2026-01-01T00:00:00+00:00",
    }


def test_a_contract_enum_has_every_value_of_the_proto_and_reads_numbers():
    status = contract_enum("PaymentStatus", payments_pb2.PaymentStatus, "PAYMENT_STATUS_")
    assert status.CAPTURED == "captured" and status.__module__ == __name__
    assert len(status) == len(payments_pb2.PaymentStatus.keys())
    assert (
        from_contract(status, payments_pb2.PAYMENT_STATUS_REQUIRES_ACTION) is status.REQUIRES_ACTION
    )
    assert from_contract(status, 999) is status.UNSPECIFIED  # a value from a newer contract
