"""What an operator's tools read: liveness, readiness and Prometheus metrics on a small HTTP port.

Enabled by the config's ``monitoring.port``. Nothing served here names a person: figures are
counts, and readiness reasons name components, never ids or text.
"""

from bot.monitoring.metrics import MESSAGES_IN, RATE_LIMITED, SEND_RETRIES, render_metrics
from bot.monitoring.server import MonitoringServer, Readiness

__all__ = [
    "MESSAGES_IN",
    "RATE_LIMITED",
    "SEND_RETRIES",
    "MonitoringServer",
    "Readiness",
    "render_metrics",
]
