"""FEEDBACK_NAMESPACE / _BOOTSTRAP_SERVERS / _REDIS_URL reach every service's settings, below the
service's own variables and explicit arguments; unknown names stay refused."""

from collections.abc import Iterator

import pytest

from feedbackctl.settings_classes import SETTINGS_CLASSES
from plumbing.environment import UnknownSettingError, check_environment
from plumbing.settings import ServiceSettings, set_fallback_namespace
from sinks.settings import SinkSettings
from stream_processors.settings import ProcessorSettings

OTHER = "10.9.8.7:29092"


@pytest.fixture(autouse=True)
def _no_fallback() -> Iterator[None]:
    set_fallback_namespace(None)
    yield
    set_fallback_namespace(None)


def _with_field(name: str) -> list[type[ServiceSettings]]:
    return [cls for cls in SETTINGS_CLASSES if name in cls.model_fields]


def test_the_shared_bootstrap_servers_reach_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_BOOTSTRAP_SERVERS", OTHER)
    classes = _with_field("bootstrap_servers")
    assert len(classes) >= 6  # producer, processor, sink, dashboard, replay, monitor, topics
    for cls in classes:
        assert cls().bootstrap_servers == OTHER, cls.__name__  # type: ignore[attr-defined]


def test_a_service_variable_and_an_argument_win_over_the_shared_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDBACK_BOOTSTRAP_SERVERS", OTHER)
    monkeypatch.setenv("FEEDBACK_SINK_BOOTSTRAP_SERVERS", "sink-own:1")
    assert SinkSettings().bootstrap_servers == "sink-own:1"
    assert SinkSettings(bootstrap_servers="arg:2").bootstrap_servers == "arg:2"
    assert ProcessorSettings().bootstrap_servers == OTHER


def test_redis_url_and_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_REDIS_URL", "redis://10.9.8.7:6390/2")
    monkeypatch.setenv("FEEDBACK_NAMESPACE", "trial-3")
    processor = ProcessorSettings()
    assert processor.redis_url == "redis://10.9.8.7:6390/2"
    assert processor.namespace == "trial-3"
    assert SinkSettings().namespace == "trial-3"
    for cls in _with_field("lake_prefix"):
        assert cls().lake_prefix == "trial-3/", cls.__name__  # type: ignore[attr-defined]
    for cls in _with_field("topic_namespace"):
        assert cls().topic_namespace == "trial-3", cls.__name__  # type: ignore[attr-defined]


def test_the_fallback_namespace_is_taken_last_and_said_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FEEDBACK_NAMESPACE", raising=False)
    monkeypatch.delenv("FEEDBACK_SINK_NAMESPACE", raising=False)
    said: list[str] = []
    set_fallback_namespace("demo-1", said.append)
    assert SinkSettings(namespace="explicit").namespace == "explicit"
    assert said == []  # not used: nothing to say
    assert SinkSettings().namespace == "demo-1"
    assert SinkSettings().namespace == "demo-1"
    assert said == ["demo-1"]
    monkeypatch.setenv("FEEDBACK_NAMESPACE", "chosen")
    assert SinkSettings().namespace == "chosen"


def test_shared_names_are_known_and_typos_still_refused() -> None:
    check_environment(
        {
            "FEEDBACK_BOOTSTRAP_SERVERS": OTHER,
            "FEEDBACK_REDIS_URL": "redis://x",
            "FEEDBACK_NAMESPACE": "n",
            "FEEDBACK_LOG_LEVEL": "DEBUG",
            "FEEDBACK_LOG_FORMAT": "json",
        }
    )
    with pytest.raises(UnknownSettingError, match="FEEDBACK_BOOTSTRAP_SERVERS"):
        check_environment({"FEEDBACK_BOOTSTRAP_SERVER": OTHER})
    with pytest.raises(UnknownSettingError, match="FEEDBACK_SINK_BOOTSTRAP_SERVERS"):
        check_environment({"FEEDBACK_SINK_BOOTSTRAP_SERVERZ": OTHER})
