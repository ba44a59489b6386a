"""The Delta Lake sink: Kafka topics -> lake tables exactly once, lake maintenance and reading.

Depends on `schemas/` and the shared plumbing only; see docs/lake.md.
"""

from sinks.exceptions import LakeError, SinkError, TableNotFoundInLakeError
from sinks.settings import SinkSettings
from sinks.sink import DeltaSink, SinkStats

__all__ = [
    "DeltaSink",
    "LakeError",
    "SinkError",
    "SinkSettings",
    "SinkStats",
    "TableNotFoundInLakeError",
]
