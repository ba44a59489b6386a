"""Which wire format each topic namespace uses, and where the Schema Registry is
(FEEDBACK_WIRE_* environment variables)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from plumbing.settings import ENV_PREFIX, ServiceSettings

__all__ = ["CONFLUENT", "SINGLE_OBJECT", "WireFormat", "WireSettings"]

SINGLE_OBJECT = "single-object"
CONFLUENT = "confluent"
WireFormat = Literal["single-object", "confluent"]


class WireSettings(ServiceSettings):
    """The format producers write per topic namespace; readers accept both formats always.

    `namespace_formats` overrides `format` for the namespaces it names (`""` is the topics
    without a namespace), so a migration moves one namespace at a time.
    """

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}WIRE_")

    format: WireFormat = Field(
        default="single-object",
        description="Format written to namespaces not in namespace_formats: single-object "
        "(Avro single-object encoding, no service needed) or confluent (magic byte 0 + "
        "schema id, needs registry_url).",
    )
    namespace_formats: dict[str, WireFormat] = Field(
        default_factory=dict,
        description='JSON object namespace -> format, e.g. {"team-a": "confluent"}.',
    )
    registry_url: str | None = Field(
        default=None,
        description="Schema Registry (Confluent-compatible API) base URL, e.g. "
        "http://127.0.0.1:18081/apis/ccompat/v7; readers need it to decode confluent messages.",
    )

    def format_of(self, namespace: str | None) -> WireFormat:
        """The format producers write to the topics of `namespace` (None or "": no suffix)."""
        return self.namespace_formats.get(namespace or "", self.format)
