"""The e2e harness: a private stack, known workloads, pipeline processes and reconciliation.

Shared by the reliability scenarios (`tests/e2e/test_*.py`) and `benchmarks/pipeline_report.py`.
Nothing here talks to the shared stack at 127.0.0.1:19092 / 16379: every service it starts points
at a `PrivateStack` on free ports, so Kafka and Redis can be restarted without disturbing anyone.
"""

from tests.e2e.pipeline_harness.private_stack import PrivateStack, free_port, start_private_stack
from tests.e2e.pipeline_harness.reconcile import LakeSnapshot, reconcile
from tests.e2e.pipeline_harness.services import Pipeline, ServiceRunner
from tests.e2e.pipeline_harness.workload import (
    PROCESSOR_TEST_ENV,
    BackgroundProducer,
    Produced,
    produce,
    scenario_traffic,
)

__all__ = [
    "PROCESSOR_TEST_ENV",
    "BackgroundProducer",
    "LakeSnapshot",
    "Pipeline",
    "PrivateStack",
    "Produced",
    "ServiceRunner",
    "free_port",
    "produce",
    "reconcile",
    "scenario_traffic",
    "start_private_stack",
]
