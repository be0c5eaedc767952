"""Bounded input types for entry points: a value the database cannot store is a 422 naming the
field, never a driver error (a 500) deep in a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

MAX_DB_ID = 2**63 - 1  # signed 64-bit: MySQL BIGINT and SQLite INTEGER alike

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
"""A row id inside a request body."""

DbIdPath = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
"""A row id in a URL path."""

DbIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_ID)]
"""An optional row id in a query string (e.g. a keyset cursor)."""
