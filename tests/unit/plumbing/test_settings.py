"""Every service's endpoints bind loopback unless its *_METRICS_HOST says otherwise."""

import pytest

from feedbackctl.settings_classes import SETTINGS_CLASSES
from sinks.settings import SinkSettings
from stream_processors.app import build_app
from stream_processors.settings import ProcessorSettings


@pytest.mark.parametrize("settings_class", SETTINGS_CLASSES)
def test_metrics_host_defaults_to_loopback(settings_class: type) -> None:
    assert settings_class().metrics_host == "127.0.0.1"


def test_metrics_host_is_read_from_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SINK_METRICS_HOST", "0.0.0.0")
    assert SinkSettings().metrics_host == "0.0.0.0"
    assert ProcessorSettings().metrics_host == "127.0.0.1"


def test_the_workers_faust_web_server_binds_the_metrics_host() -> None:
    app, _ = build_app(ProcessorSettings(namespace="bind-test", web_port=6067))
    assert app.conf.web_bind == "127.0.0.1"
    app, _ = build_app(ProcessorSettings(namespace="bind-test", metrics_host="10.0.0.5"))
    assert app.conf.web_bind == "10.0.0.5"
