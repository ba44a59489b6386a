"""The live dashboard: reads the metrics, dead-letter and alert topics and serves a page and API.

Depends on `schemas/` and the shared plumbing only; it meets the processors through topics.
"""

from dashboard.settings import DashboardSettings
from dashboard.state import DashboardState

__all__ = ["DashboardSettings", "DashboardState"]
