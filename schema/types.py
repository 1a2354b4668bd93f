"""Reusable field types for the wire contract.

Every string on the wire is bounded and free of NUL characters (PostgreSQL's JSONB and TEXT
refuse ``\\x00``), every float is finite (JSON has no NaN), and every timestamp carries a
timezone and is normalised to UTC. Putting these rules in the types means the agent cannot build
a sample the collector would refuse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("string contains a NUL character")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC instant in range
        raise ValueError("timestamp is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, converted to UTC; naive timestamps are refused."""

ShortText = Annotated[str, Field(max_length=256), AfterValidator(_no_nul)]
"""Names, versions, identifiers."""

Text = Annotated[str, Field(max_length=4096), AfterValidator(_no_nul)]
"""Free text such as error messages, paths and comments."""

NonNegFloat = Annotated[float, Field(ge=0)]
Percent = Annotated[float, Field(ge=0, le=100)]
UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]


class WireModel(BaseModel):
    """Base of every wire model.

    Unknown fields are ignored so that a newer agent's additions never break an older
    collector; fields are added, never renamed.
    """

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)
