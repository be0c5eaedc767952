"""Bounded input types for entry points: a value the database cannot store is a 422 naming the
field, never a driver error (a 500) deep in a query.

Every integer a client can send goes through one of these bounds (in a body, a path, a query
string, or inside an opaque cursor via `check_db_int`), and every free-text field that is stored
refuses control characters (`SafeText`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from vanity_common.errors import FieldError, InvalidArgument

MAX_DB_ID = 2**63 - 1  # signed 64-bit: MySQL BIGINT and SQLite INTEGER alike
MAX_DB_INT = MAX_DB_ID
"""The largest integer any column can hold (BIGINT): the bound of every client number."""

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
"""A row id inside a request body."""

DbIdPath = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
"""A row id in a URL path."""

DbIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_ID)]
"""An optional row id in a query string (e.g. a keyset cursor)."""

DbInt = Annotated[int, Field(ge=-MAX_DB_INT, le=MAX_DB_INT)]
"""Any integer inside a request body: fits a signed 64-bit column."""

NonNegativeDbInt = Annotated[int, Field(ge=0, le=MAX_DB_INT)]
"""A count or an amount in minor units inside a request body."""

NonNegativeDbIntQuery = Annotated[int | None, Query(ge=0, le=MAX_DB_INT)]
"""An optional count or amount in minor units in a query string (e.g. a price filter)."""


def db_int_in_range(value: int, *, minimum: int = -MAX_DB_INT) -> bool:
    """Whether an integer decoded from an opaque token (a cursor) fits a 64-bit column.
    Booleans are not integers here."""
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_DB_INT


# Cc (C0, DEL, C1) and the line/paragraph separators: invisible in a UI, dangerous in a header,
# a log line or a CSV export. Tabs and newlines are refused too in these one-line fields.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


_LINE_BREAKS_AND_TABS = frozenset("\n\r\t")


def control_characters(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The control characters in `text` (except `allowed`), as U+XXXX; empty when clean."""
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in text
            if unicodedata.category(c) in _FORBIDDEN_CATEGORIES and c not in allowed
        }
    )


def _refuse_control_characters(value: str) -> str:
    if found := control_characters(value):
        raise ValueError(f"must not contain control characters ({', '.join(found[:5])})")
    return value


def _refuse_control_characters_but_line_breaks(value: str) -> str:
    if found := control_characters(value, allowed=_LINE_BREAKS_AND_TABS):
        raise ValueError(f"must not contain control characters ({', '.join(found[:5])})")
    return value


SafeText = Annotated[str, AfterValidator(_refuse_control_characters)]
"""One line of user text (a name, an address line): no NUL or other control characters.
Combine with a length bound: `Annotated[SafeText, Field(max_length=200)]`."""

SafeMultilineText = Annotated[str, AfterValidator(_refuse_control_characters_but_line_breaks)]
"""Free text over several lines (a description): line breaks and tabs, no other control
characters."""


def distinct_skus(skus: Iterable[str], *, field: str, limit: int) -> list[str]:
    """The SKUs of a lookup (availability, prices): stripped, blanks and repeats dropped, in
    order. 422 naming `field` when none is left or more than `limit` are."""
    unique = list(dict.fromkeys(s.strip() for s in skus if s and s.strip()))
    if not unique:
        raise InvalidArgument(
            "At least one SKU is required.", errors=[FieldError(field, "required")]
        )
    if len(unique) > limit:
        raise InvalidArgument(
            f"At most {limit} SKUs per request.",
            errors=[FieldError(field, f"at most {limit} values")],
        )
    return unique
