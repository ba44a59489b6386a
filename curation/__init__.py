"""Curation: SFT, preference and KTO datasets from a pinned version of the lake, and
feedback-quality monitoring over the lake.

Reads only the lake (`schemas.lake` contracts); never imports `sinks` or `stream_processors`.
"""

from curation.exceptions import CurationError, LakeTableMissingError
from curation.options import CurationOptions
from curation.pipeline import CurationResult, curate_preferences, curate_sft
from curation.settings import CurationSettings

__all__ = [
    "CurationError",
    "CurationOptions",
    "CurationResult",
    "CurationSettings",
    "LakeTableMissingError",
    "curate_preferences",
    "curate_sft",
]
