"""Every service's settings class, imported so that the CLI knows every valid FEEDBACK_* name.

Each `ServiceSettings` subclass registers its variables when it is defined
(`plumbing.environment`); importing them all here is what lets `feedbackctl` refuse a variable
that no service reads, whichever command runs. A new settings class is added here.
"""

from curation.impact.settings import CompareSettings
from curation.monitoring.settings import MonitorSettings
from curation.settings import CurationSettings
from curation.watch_settings import WatchSettings
from dashboard.settings import DashboardSettings
from feedbackctl.topics_commands import TopicsSettings
from gateway.settings import GatewaySettings
from local_stack.registry_node import RegistrySettings
from local_stack.settings import StackSettings
from plumbing.kafka_security import KafkaSecuritySettings
from plumbing.settings import ServiceSettings
from producers.regimes import GeneratorSettings
from producers.settings import ProducerSettings
from replay.settings import ReplaySettings
from schemas.registry_settings import WireSettings
from sinks.settings import SinkSettings
from stream_processors.settings import ProcessorSettings

__all__ = ["SETTINGS_CLASSES"]

SETTINGS_CLASSES: tuple[type[ServiceSettings], ...] = (
    CompareSettings,
    CurationSettings,
    DashboardSettings,
    GatewaySettings,
    GeneratorSettings,
    KafkaSecuritySettings,
    MonitorSettings,
    ProcessorSettings,
    ProducerSettings,
    RegistrySettings,
    ReplaySettings,
    SinkSettings,
    StackSettings,
    TopicsSettings,
    WatchSettings,
    WireSettings,
)
