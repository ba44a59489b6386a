"""Shared facts about the deployment files: the CLI's commands and each env prefix's settings."""

from pathlib import Path

import pytest
import typer.main
from pydantic_settings import BaseSettings

# Read with os.environ directly rather than through a settings class: the project's own list.
from plumbing.environment import PLAIN_VARIABLES

ROOT = Path(__file__).resolve().parents[3]

# Variables that a service is meant to read but whose settings field is not written yet: accepted
# as they are. Remove an entry once its field exists, so that a typo in it would be caught.
PENDING_VARIABLES: dict[str, str] = {}
PENDING_COMMANDS: dict[str, str] = {}


def settings_by_prefix() -> dict[str, type[BaseSettings]]:
    from curation.monitoring.settings import MonitorSettings
    from curation.watch_settings import WatchSettings
    from dashboard.settings import DashboardSettings
    from feedbackctl.topics_commands import TopicsSettings
    from gateway.settings import GatewaySettings
    from plumbing.kafka_security import KafkaSecuritySettings
    from producers.settings import ProducerSettings
    from sinks.settings import SinkSettings
    from stream_processors.settings import ProcessorSettings

    classes: list[type[BaseSettings]] = [
        DashboardSettings,
        GatewaySettings,
        KafkaSecuritySettings,
        MonitorSettings,
        TopicsSettings,
        ProducerSettings,
        SinkSettings,
        ProcessorSettings,
        WatchSettings,
    ]
    return {str(cls.model_config["env_prefix"]).upper(): cls for cls in classes}


def unknown_variables(names: set[str]) -> list[str]:
    """FEEDBACK_* names that no settings class reads (pending ones excepted while pending)."""
    prefixes = settings_by_prefix()
    unknown = []
    for name in sorted(names):
        if name in PLAIN_VARIABLES:
            continue
        matches = [(p, cls) for p, cls in prefixes.items() if name.startswith(p)]
        if not matches:
            unknown.append(f"{name} (no settings class has its prefix)")
            continue
        prefix, cls = max(matches, key=lambda match: len(match[0]))
        field = name[len(prefix) :].lower()
        if field not in cls.model_fields and name not in PENDING_VARIABLES:
            unknown.append(f"{name} ({cls.__name__} has no field {field!r})")
    return unknown


def cli_commands() -> set[str]:
    from feedbackctl.main import app

    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def commands() -> set[str]:
    return cli_commands() | set(PENDING_COMMANDS)
