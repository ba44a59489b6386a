"""Errors of replay and reprocessing."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["ReplayError"]


class ReplayError(FeedbackPipelineError):
    """A replay, backfill or offset reset cannot go ahead; the message says why and what to do."""
