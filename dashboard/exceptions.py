"""Errors of the dashboard."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["DashboardError"]


class DashboardError(FeedbackPipelineError):
    """The dashboard cannot start or read its topics; the message says what to change."""
