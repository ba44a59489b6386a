"""Unknown FEEDBACK_* variables are refused with the closest valid name; known ones pass."""

import pytest

from plumbing.environment import (
    PLAIN_VARIABLES,
    UnknownSettingError,
    check_environment,
    known_variables,
    unknown_variables,
)
from sinks.settings import SinkSettings
from stream_processors.settings import ProcessorSettings


def test_a_typo_names_the_variable_and_the_right_suggestion() -> None:
    with pytest.raises(UnknownSettingError) as caught:
        check_environment({"FEEDBACK_SINK_FLUSH_LATENCYY_S": "2", "PATH": "/bin"})
    message = str(caught.value)
    assert "FEEDBACK_SINK_FLUSH_LATENCYY_S: did you mean FEEDBACK_SINK_FLUSH_LATENCY_S?" in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "name", ["FEEDBACK_PROCESSOR_KAFKA_CONFIG", "FEEDBACK_SINK_BOGUS", "FEEDBACK_NOTHING"]
)
def test_names_no_settings_class_has_are_unknown(name: str) -> None:
    assert unknown_variables({name: "x"}) == [name]


def test_fields_of_every_service_and_plain_variables_are_known() -> None:
    environ = {
        "FEEDBACK_SINK_FLUSH_LATENCY_S": "2",
        "FEEDBACK_PROCESSOR_METRICS_PORT": "9101",
        "feedback_sink_lake_uri": "lake",  # the settings read names case-insensitively
        **{name: "1" for name in PLAIN_VARIABLES},
        "OTHER_FEEDBACK_SINK_BOGUS": "not ours",
    }
    assert unknown_variables(environ) == []
    check_environment(environ)
    assert "FEEDBACK_SINK_METRICS_PORT" in known_variables()


def test_a_service_checks_only_its_own_prefix() -> None:
    environ = {"FEEDBACK_SINK_BOGUS": "1", "FEEDBACK_PROCESSOR_BOGUS": "1"}
    assert unknown_variables(environ, prefixes=["FEEDBACK_SINK_"]) == ["FEEDBACK_SINK_BOGUS"]


def test_loading_settings_refuses_a_typo_under_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SINK_FLUSH_LATENCYY_S", "2")
    with pytest.raises(UnknownSettingError, match="did you mean FEEDBACK_SINK_FLUSH_LATENCY_S"):
        SinkSettings()
    # Another service's loading ignores it: a shared ConfigMap holds every service's variables.
    assert ProcessorSettings().metrics_port is None


def test_loading_settings_reads_valid_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SINK_FLUSH_LATENCY_S", "2.5")
    monkeypatch.setenv("FEEDBACK_SINK_CRASH_AT", "during_write")
    assert SinkSettings().flush_latency_s == 2.5
