"""Which wire format each topic namespace uses, and where the Schema Registry is
(FEEDBACK_WIRE_* environment variables)."""

from functools import cache
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from plumbing.settings import ENV_PREFIX, ServiceSettings
from schemas.topics import TOPICS, TopicSpec

__all__ = [
    "CONFLUENT",
    "SINGLE_OBJECT",
    "WireFormat",
    "WireSettings",
    "namespace_of",
    "wire_settings",
    "writes_confluent",
]

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


@cache
def wire_settings(environment: tuple[tuple[str, str], ...]) -> WireSettings:
    """The settings, parsed once per distinct set of FEEDBACK_WIRE_* variables (the key)."""
    del environment  # only the cache key: WireSettings reads the same variables itself
    return WireSettings()


def writes_confluent(topic: TopicSpec, settings: WireSettings) -> bool:
    """Whether producers write `topic` (a namespaced spec) in the Confluent format."""
    return settings.format_of(namespace_of(topic.name)) == CONFLUENT


def namespace_of(topic_name: str) -> str:
    """The namespace suffix of a registered topic's name ("" for none)."""
    for spec in TOPICS:
        if topic_name == spec.name:
            return ""
        if topic_name.startswith(spec.name + "."):
            return topic_name[len(spec.name) + 1 :]
    raise KeyError(f"no topic named {topic_name!r} in the topic registry (schemas/topics.py)")
