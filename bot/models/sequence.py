"""Per-day counters behind incident references."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class DailySequence(SQLModel, table=True):
    """The last number handed out on one UTC day (`YYYYMMDD`)."""

    __tablename__ = "daily_sequence"

    day: str = Field(primary_key=True, max_length=8)
    last: int = Field(default=0)
