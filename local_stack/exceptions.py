"""Errors of the local stack; each says what to install or change."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["StackError"]


class StackError(FeedbackPipelineError):
    """The local stack could not be started, stopped or reached."""
