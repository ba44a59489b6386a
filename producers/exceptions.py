"""Errors of the producer SDK, under the project's root exception.

Invalid input raises `schemas.exceptions.InvalidRecordError` (a `ValueError` naming the field), not
one of these: these are about delivery.
"""

from plumbing.errors import FeedbackPipelineError

__all__ = ["DeliveryFailedError", "ProducerClosedError", "ProducerError", "QueueFullError"]


class ProducerError(FeedbackPipelineError):
    """Something went wrong sending events (never raised for input errors)."""


class ProducerClosedError(ProducerError):
    """The client was closed; create a new one to send more events."""


class QueueFullError(ProducerError):
    """The local queue stayed full for the whole wait (policy `raise` only; `spool` spools)."""


class DeliveryFailedError(ProducerError):
    """Events could not be delivered (policy `raise` only; `spool` spools them instead)."""

    def __init__(self, message: str, failed: int) -> None:
        super().__init__(message)
        self.failed = failed
