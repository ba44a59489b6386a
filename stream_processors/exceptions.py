"""Errors of the stream processor."""

from plumbing.errors import FeedbackPipelineError

__all__ = [
    "DependencyOutageError",
    "OutputDeliveryError",
    "OutputsUnacknowledgedError",
    "OwnershipLostError",
    "ProcessorError",
]


class ProcessorError(FeedbackPipelineError):
    """Base of the stream processor's errors."""


class OutputDeliveryError(ProcessorError):
    """Kafka did not acknowledge an output in time; the batch is not checkpointed and is retried
    after a restart. Check that the broker is up and the output topics exist."""


class OutputsUnacknowledgedError(OutputDeliveryError):
    """Kafka has not acknowledged every queued output yet (broker unreachable or slow). Nothing
    failed: the outputs stay queued and librdkafka keeps sending them; the worker waits again
    (docs/reliability.md, Outages)."""


class DependencyOutageError(ProcessorError):
    """Redis or Kafka stayed unavailable for longer than `max_outage_s`: the worker exits
    (code 70) so that a restart, or another worker, takes over. Check the dependency named."""


class OwnershipLostError(ProcessorError):
    """Another worker owns a partition this worker tried to checkpoint (a rebalance fenced us).

    The batch is dropped; the new owner reprocesses it from the last checkpoint."""
