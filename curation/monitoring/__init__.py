"""Feedback-quality monitoring over the lake: coverage, explicit/implicit agreement, rating
drift (PSI), rater spam and per-agent-version regressions, published as QualityAlert records.
"""

from curation.monitoring.alerts import AlertPublisher, read_alerts
from curation.monitoring.monitor import MonitorReport, run_monitor
from curation.monitoring.rules import MonitorRules
from curation.monitoring.settings import MonitorSettings

__all__ = [
    "AlertPublisher",
    "MonitorReport",
    "MonitorRules",
    "MonitorSettings",
    "read_alerts",
    "run_monitor",
]
