"""The Kafka fields are written once (`plumbing.kafka_settings`) and every service inherits them
under its own prefix: same names, same defaults, same validation, no new FEEDBACK_* name."""

import json

import pytest
from pydantic import ValidationError

from feedbackctl.settings_classes import SETTINGS_CLASSES
from gateway.settings import GatewaySettings
from plumbing.environment import UnknownSettingError, check_environment, known_variables
from plumbing.kafka_settings import KafkaClientFields, KafkaConnectionFields
from plumbing.settings import DEFAULT_BOOTSTRAP_SERVERS, ServiceSettings, env_name
from sinks.settings import SinkSettings
from stream_processors.settings import ProcessorSettings

WITH_BOOTSTRAP = [c for c in SETTINGS_CLASSES if "bootstrap_servers" in c.model_fields]
WITH_KAFKA_CONFIG = [c for c in SETTINGS_CLASSES if "kafka_config" in c.model_fields]


def _prefix(cls: type[ServiceSettings]) -> str:
    return str(cls.model_config["env_prefix"])


def test_gateway_and_processor_share_one_definition() -> None:
    for cls in (GatewaySettings, ProcessorSettings):
        assert issubclass(cls, KafkaConnectionFields)
        field = cls.model_fields["bootstrap_servers"]
        assert (
            field.description == KafkaConnectionFields.model_fields["bootstrap_servers"].description
        )
    assert issubclass(GatewaySettings, KafkaClientFields)


@pytest.mark.parametrize("cls", WITH_BOOTSTRAP, ids=lambda c: c.__name__)
def test_every_service_with_bootstrap_servers_inherits_it(cls: type[ServiceSettings]) -> None:
    assert issubclass(cls, KafkaConnectionFields)
    assert cls.model_fields["bootstrap_servers"].default == DEFAULT_BOOTSTRAP_SERVERS


@pytest.mark.parametrize("cls", WITH_KAFKA_CONFIG, ids=lambda c: c.__name__)
def test_every_service_with_kafka_config_inherits_it(cls: type[ServiceSettings]) -> None:
    assert issubclass(cls, KafkaClientFields)
    assert cls.model_fields["kafka_config"].get_default(call_default_factory=True) == {}


@pytest.mark.parametrize("cls", WITH_BOOTSTRAP, ids=lambda c: c.__name__)
def test_the_names_stay_under_each_services_prefix(
    cls: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = env_name(_prefix(cls), "bootstrap_servers")
    assert variable in known_variables()
    monkeypatch.setenv(variable, "10.1.2.3:9092")
    settings = cls()
    assert settings.bootstrap_servers == "10.1.2.3:9092"  # type: ignore[attr-defined]


def test_no_name_without_a_service_prefix_is_added() -> None:
    for unprefixed in ("FEEDBACK_KAFKA_CONFIG", "FEEDBACK_METRICS_HOST"):
        assert unprefixed not in known_variables()
        with pytest.raises(UnknownSettingError):
            check_environment({unprefixed: "x"})


def test_kafka_config_takes_librdkafka_values_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FEEDBACK_SINK_KAFKA_CONFIG", json.dumps({"fetch.min.bytes": 1, "check.crcs": True})
    )
    assert SinkSettings().kafka_config == {"fetch.min.bytes": 1, "check.crcs": True}
    monkeypatch.setenv("FEEDBACK_GATEWAY_KAFKA_CONFIG", json.dumps({"acks": ["all"]}))
    with pytest.raises(ValidationError):
        GatewaySettings()
