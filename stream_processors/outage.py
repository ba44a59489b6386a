"""Riding out an unavailable Redis or Kafka: which errors mean that, backoff, the degraded state.

The processor is crash-only: a failed step exits the worker (code 70) and a restart resumes from
the Redis checkpoint. That is the right answer to a bug, not to a dependency that is down for a
while: a restart does not bring Redis back, and a worker restarted during the outage fails again
at once. So the runtime retries its checkpoint while the dependency is unavailable (holding the
step lock: no step runs, nothing is applied without its checkpoint), reports itself degraded
(`feedback_processor_degraded{dependency}` and a log line on entering and on leaving the state),
and gives up, as crash-only as before, once the outage lasted `max_outage_s`
(docs/reliability.md, Outages).

A broker that is away while the worker has nothing to send fails no checkpoint, yet the worker
cannot read either: the worker's own requests to the broker (the end offsets it asks for when
its inputs fall silent) tell that apart, so a Kafka outage is reported whether or not outputs
were pending. Such a probe only reports; it sets no deadline (nothing is held back).
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from confluent_kafka import KafkaError, KafkaException

from stream_processors import telemetry
from stream_processors.exceptions import DependencyOutageError, OutputsUnacknowledgedError

__all__ = [
    "DEPENDENCIES",
    "Backoff",
    "OutageTracker",
    "broker_unreachable",
    "unavailable_dependency",
]

log = logging.getLogger(__name__)

DEPENDENCIES = ("redis", "kafka")


def unavailable_dependency(error: BaseException) -> str | None:
    """ "redis" or "kafka" when `error` says that dependency did not answer in time; None for
    anything else, which stays a crash.

    Redis: a refused or broken connection, a timeout (a paused or overloaded server), a server
    still loading its data after a restart (`BusyLoadingError` is a `ConnectionError`). Kafka:
    outputs not acknowledged in time (the producer keeps them queued). A Redis Cluster between a
    primary's death and its replica's election answers CLUSTERDOWN or MASTERDOWN, and TRYAGAIN
    while a slot moves: those replies say "not now", so they count as an outage too, as does a
    slot no reachable node serves yet. Right after the election, the WATCH of a checkpoint's
    transaction can still go to the old primary and be answered MOVED (or ASK): redis-py
    patches its slot map with the reply but does not resend a transaction, so the checkpoint is
    retried like any outage and goes to the new owner (a worker exited on it once, in the
    Redis-primary-kill scenario). An output that *failed* (e.g. too large) or any other Redis
    error reply is not an outage.
    """
    if isinstance(error, OutputsUnacknowledgedError):
        return "kafka"
    if isinstance(error, _REDIS_UNAVAILABLE):
        return "redis"
    return None


# librdkafka's local errors for a request no broker answered.
_BROKER_UNREACHABLE = frozenset(
    {
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
    }
)


def broker_unreachable(error: BaseException) -> bool:
    """True when a request to the broker failed because no broker answered (timed out, refused,
    disconnected, unresolvable); False for an answer that was an error (FENCED_LEADER_EPOCH just
    after a restart, NOT_LEADER during an election) or anything else."""
    if not isinstance(error, KafkaException) or not error.args:
        return False
    kafka_error = error.args[0]
    return isinstance(kafka_error, KafkaError) and kafka_error.code() in _BROKER_UNREACHABLE


_REDIS_UNAVAILABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ClusterDownError,  # MasterDownError is one
    redis.exceptions.TryAgainError,
    redis.exceptions.SlotNotCoveredError,
    redis.exceptions.AskError,  # MovedError is one: the slot's owner changed (a failover)
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of
    min(cap, first * 2**n), so that workers that lost the same Redis do not retry in lockstep,
    and a dependency that is back is noticed within `cap_s`."""

    first_s: float = 0.25
    cap_s: float = 5.0

    def delay_s(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap_s, self.first_s * 2.0 ** min(attempt, 32))
        return ceiling / 2 + draw() * ceiling / 2


class OutageTracker:
    """The worker's degraded state: since when each dependency is unavailable, its gauge, the
    log lines, the next delay and the deadline (`max_outage_s`, counted from the first failure
    of the stretch, whichever dependency failed).

    Two sources say a dependency is unavailable: a failed checkpoint (`failed`, cleared by
    `recovered`), which holds the worker and counts towards the deadline, and a failed probe
    (`unreachable`, cleared by `reachable`), which only reports. A dependency is degraded while
    either says so; the log lines mark entering and leaving that state.
    """

    def __init__(
        self,
        max_outage_s: float,
        backoff: Backoff = Backoff(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_outage_s = max_outage_s
        self.backoff = backoff
        self._clock = clock
        self._since: dict[str, float] = {}  # failed checkpoints
        self._probed: dict[str, float] = {}  # failed probes
        self._entered: dict[str, float] = {}  # degraded, by either source, since
        self._attempts = 0
        for dependency in DEPENDENCIES:
            telemetry.DEGRADED.labels(dependency).set(0)

    @property
    def degraded(self) -> bool:
        return bool(self._entered)

    def _enter(self, dependency: str, what: str, error: BaseException) -> None:
        if dependency in self._entered:
            return
        self._entered[dependency] = self._clock()
        telemetry.DEGRADED.labels(dependency).set(1)
        log.warning("%s unavailable (%s): degraded, %s", dependency, _describe(error), what)

    def _leave_unless_still_down(self, dependency: str) -> None:
        if dependency in self._since or dependency in self._probed:
            return
        since = self._entered.pop(dependency, None)
        if since is None:
            return
        telemetry.DEGRADED.labels(dependency).set(0)
        log.warning(
            "%s available again after %.1f s: degraded state left, resuming",
            dependency,
            self._clock() - since,
        )

    def unreachable(self, dependency: str, error: BaseException) -> None:
        """A probe of `dependency` failed (see `broker_unreachable`): report it degraded."""
        if dependency not in self._probed:
            self._probed[dependency] = self._clock()
        self._enter(dependency, "waiting for it to answer again", error)

    def reachable(self, dependency: str) -> None:
        """A probe of `dependency`, or a read from it, succeeded."""
        if self._probed.pop(dependency, None) is not None:
            self._leave_unless_still_down(dependency)

    def failed(self, dependency: str, error: BaseException) -> float:
        """Record a failed attempt; return the seconds to wait before the next one.

        Raises DependencyOutageError once the stretch lasted `max_outage_s`.
        """
        now = self._clock()
        if dependency not in self._since:
            self._since[dependency] = now
            self._enter(
                dependency,
                "no new steps; retrying the checkpoint with backoff for up to "
                f"{self.max_outage_s:.0f} s (max_outage_s)",
                error,
            )
        lasted = now - min(self._since.values())
        if lasted >= self.max_outage_s:
            raise DependencyOutageError(
                f"{dependency} unavailable for {lasted:.0f} s, longer than max_outage_s "
                f"({self.max_outage_s:.0f} s): {_describe(error)}; exiting so that a restart, "
                "or another worker, resumes from the checkpoint"
            ) from error
        delay = min(self.backoff.delay_s(self._attempts), self.max_outage_s - lasted)
        self._attempts += 1
        log.info(
            "%s still unavailable after %.1f s (attempt %d: %s); next try in %.2f s",
            dependency,
            lasted,
            self._attempts,
            _describe(error),
            delay,
        )
        return delay

    def recovered(self) -> bool:
        """A checkpoint succeeded after failed ones: leave their degraded state (it answered,
        whatever an older probe said); True if there were failed ones."""
        if not self._since:
            return False
        failed = sorted(self._since)
        self._since.clear()
        self._attempts = 0
        for dependency in failed:
            self._probed.pop(dependency, None)
            self._leave_unless_still_down(dependency)
        return True


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
