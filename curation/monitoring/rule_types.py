"""What the monitors' rules have in common: a frozen model that refuses unknown fields and takes
each field's description from the docstring under it, and the kinds of values they hold."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Count", "Delay", "Rules", "Seconds", "Share"]

Seconds = Annotated[float, Field(gt=0)]
"""A span of event time, seconds (never empty)."""
Delay = Annotated[float, Field(ge=0)]
"""A wait in event time, seconds (may be none)."""
Share = Annotated[float, Field(ge=0, le=1)]
"""A share, 0-1."""
Count = Annotated[int, Field(ge=1)]
"""A smallest number of samples."""


class Rules(BaseModel):
    """Thresholds a monitor records in every alert it raises: fixed once built."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
