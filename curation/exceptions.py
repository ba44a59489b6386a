"""Errors of curation and monitoring; each says what was wrong and what to do."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["CurationError", "LakeTableMissingError", "OutputNotEmptyError"]


class CurationError(FeedbackPipelineError):
    """A dataset could not be built."""


class LakeTableMissingError(CurationError):
    """The lake table (or the requested version of it) does not exist."""


class OutputNotEmptyError(CurationError):
    """The output directory already holds files that this run would not overwrite cleanly."""
