"""Errors of the gateway, under the project's root exception."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["GatewayError", "KeyStoreError"]


class GatewayError(FeedbackPipelineError):
    """Root of the gateway's errors."""


class KeyStoreError(GatewayError):
    """The API key file cannot be read or written (path, permissions, malformed JSON)."""
