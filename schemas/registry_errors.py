"""Errors of the Schema Registry mode."""

from plumbing.errors import FeedbackPipelineError
from schemas.exceptions import ContractError

__all__ = ["IncompatibleSchemaError", "RegistryUnavailableError", "UnknownSchemaIdError"]


class UnknownSchemaIdError(ContractError):
    """A Confluent-framed message names a schema id the registry or the catalog does not know."""

    reason = "unknown_schema_id"


class IncompatibleSchemaError(FeedbackPipelineError):
    """The registry refused a catalog version as incompatible with its subject's schemas."""


class RegistryUnavailableError(FeedbackPipelineError):
    """The registry could not be reached or refused a request: not the record's fault, so no
    dead letter; the caller retries or stops."""
