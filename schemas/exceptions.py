"""Errors of the event contracts: each maps to a dead-letter reason code."""

from plumbing.errors import FeedbackPipelineError

__all__ = [
    "ContractError",
    "InvalidRecordError",
    "LakePathError",
    "UndecodableError",
    "UnknownFingerprintError",
    "WrongSchemaError",
]


class ContractError(FeedbackPipelineError):
    """A record does not honour its contract. `reason` is the dead-letter reason code."""

    reason = "unknown"


class UndecodableError(ContractError):
    """The bytes are not an Avro single-object message (bad marker, truncated or corrupt body)."""

    reason = "undecodable"


class UnknownFingerprintError(ContractError):
    """The writer schema's fingerprint is not in the shipped catalog."""

    reason = "unknown_fingerprint"


class WrongSchemaError(ContractError):
    """The writer schema is a different record than the topic carries."""

    reason = "wrong_schema"


class InvalidRecordError(ContractError, ValueError):
    """A record is missing a field or has a value of the wrong type; `field` names it."""

    reason = "schema_invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LakePathError(FeedbackPipelineError, ValueError):
    """A namespace, table prefix or table name would lead outside the lake root."""
