"""The root exception every package's errors derive from."""

__all__ = ["FeedbackPipelineError"]


class FeedbackPipelineError(Exception):
    """Base of all errors raised by this project; messages say what was wrong and what to do."""
