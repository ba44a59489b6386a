"""Shared plumbing: settings base, root exception, logging. Depends on nothing else here."""

from plumbing.errors import FeedbackPipelineError
from plumbing.settings import ENV_PREFIX, ServiceSettings

__all__ = ["ENV_PREFIX", "FeedbackPipelineError", "ServiceSettings"]
