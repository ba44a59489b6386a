"""Errors of the stream processor."""

from plumbing.errors import FeedbackPipelineError

__all__ = ["OutputDeliveryError", "OwnershipLostError", "ProcessorError"]


class ProcessorError(FeedbackPipelineError):
    """Base of the stream processor's errors."""


class OutputDeliveryError(ProcessorError):
    """Kafka did not acknowledge an output in time; the batch is not checkpointed and is retried
    after a restart. Check that the broker is up and the output topics exist."""


class OwnershipLostError(ProcessorError):
    """Another worker owns a partition this worker tried to checkpoint (a rebalance fenced us).

    The batch is dropped; the new owner reprocesses it from the last checkpoint."""
