"""Errors of the sink and of lake maintenance, under the project's root exception."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["LakeError", "SinkError", "TableNotFoundInLakeError"]


class SinkError(FeedbackPipelineError):
    """The sink cannot go on (Kafka or Delta refused something it must have)."""


class LakeError(FeedbackPipelineError):
    """A lake maintenance or read operation failed."""


class TableNotFoundInLakeError(LakeError):
    """The Delta table does not exist (run the sink first, or check --lake-uri / --namespace)."""
