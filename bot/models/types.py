"""Column helpers shared by the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from bot.db import UTCDateTime


def utc_field(*, nullable: bool = True, index: bool = False) -> Any:
    """A timezone-aware UTC datetime column."""
    return Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def required_utc_field(*, index: bool = False) -> Any:
    """A NOT NULL timezone-aware UTC datetime column (no default: callers pass `now`)."""
    return Field(sa_column=Column(UTCDateTime(), nullable=False, index=index))


def json_field() -> Any:
    """A JSON column defaulting to an empty object."""
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


__all__ = ["datetime", "json_field", "required_utc_field", "utc_field"]
