"""The plan targets' gauges: the events service sets them as it recomputes, the gateway as
live notices reach it; one name each, so a dashboard query reads either process."""

from __future__ import annotations

from prometheus_client import Gauge

TARGET_VALUE = Gauge(
    "plantrack_target_current_value", "Current value of a plan target", ["target", "clause"]
)
TARGET_PROGRESS = Gauge(
    "plantrack_target_progress_ratio", "Progress of a plan target (current/target)", ["target"]
)
