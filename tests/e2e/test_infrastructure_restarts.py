"""Reliability scenarios 3 and 4: Kafka and Redis restarted under a running pipeline.

Both run on the private stack (never the shared one). Kafka: the broker is stopped while the
producer SDK and the workers run; the SDK must buffer and retry (its documented policy, see
docs/producer.md) and everything must come out once. Redis (AOF on): stopped and started while
workers run; the processor's state must survive. In both, the worker rides the outage out
(docs/reliability.md, Outages): no supervisor restarts it, and it must never exit, however
slowly the broker or Redis comes back (scenarios 8 and 9 make the outages a minute long).
"""

import time

import pytest

from tests.e2e.pipeline_harness import Pipeline, scenario_traffic
from tests.e2e.pipeline_harness.scenario import outputs_flowing, run_scenario, wait_for
from tests.e2e.pipeline_harness.workload import BackgroundProducer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

SESSIONS = 300
RATE = 150.0  # ~10 s of production: the outage lands in the middle of it
DOWN_S = 3.0
# While the broker is away the processor's inputs are idle, so its watermark advances with the
# wall clock (by design: sessions close when traffic stops). A session whose terminal signal
# (up to 30 s of event time after its last turn) is still in the producer's buffer is closed as
# abandoned if the outage outlasts abandon_after - 30 s. 90 s leaves 60 s for the outage
# (~15 s here).
ABANDON_AFTER_S = 90


def _assert_no_worker_exited(pipeline: Pipeline) -> None:
    assert pipeline.restarted == [], pipeline.restarted
    assert all(runner.alive() for runner in pipeline.processors), pipeline.describe()


def test_kafka_restarted_while_producers_and_workers_run(pipeline: Pipeline) -> None:
    outage: dict[str, float | bool] = {}

    def restart_kafka(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 60, "the first enriched records")
        outage["producing_when_stopped"] = producer.running()
        outage["seconds"] = pipeline.stack.restart_kafka(DOWN_S)
        outage["producing_when_back"] = producer.running()

    config = scenario_traffic(SESSIONS, seed=103, abandon_after_s=ABANDON_AFTER_S)
    result = run_scenario(pipeline, config, restart_kafka, rate=RATE)
    assert outage["producing_when_stopped"], "the broker went down after production had ended"
    assert outage["producing_when_back"], "production must go on while the broker is back"
    stats = result.produced.stats[0]
    assert stats.lost == 0 and stats.rejected == 0, stats
    _assert_no_worker_exited(pipeline)


def test_redis_restarted_while_workers_run(pipeline: Pipeline) -> None:
    """Until the outage handling, a step that could not reach Redis made the worker exit (code
    70) and a supervisor had to restart it. Now it holds its steps and retries its checkpoint
    until Redis answers again (refused connections, then the AOF loading): no exit, no restart
    (`supervise` stays off), and the lake must be exactly right afterwards."""
    restarted_mid_stream: list[bool] = []

    def restart_redis(pipeline: Pipeline, producer: BackgroundProducer) -> None:
        wait_for(lambda: outputs_flowing(pipeline), 60, "the first enriched records")
        restarted_mid_stream.append(producer.running())
        pipeline.stack.restart_redis(DOWN_S)
        time.sleep(1.0)

    run_scenario(pipeline, scenario_traffic(SESSIONS, seed=104), restart_redis, rate=RATE)
    assert restarted_mid_stream == [True], "Redis restarted after production had ended"
    _assert_no_worker_exited(pipeline)
