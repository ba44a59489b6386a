"""Watching a processor worker through an outage: is its process alive, is it degraded."""

import threading
import time
import urllib.request

from tests.e2e.pipeline_harness.services import ServiceRunner

__all__ = ["WorkerWatch"]

_GAUGE = "feedback_processor_degraded"


class WorkerWatch:
    """Samples a worker every `interval_s` in a thread: whether its process is alive (by pid,
    `ServiceRunner.alive`), and which dependencies its `/metrics` endpoint reports degraded."""

    def __init__(self, runner: ServiceRunner, metrics_port: int, interval_s: float = 0.5) -> None:
        self.runner = runner
        self.pid = runner.pid
        self.url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.interval_s = interval_s
        self.died_at: float | None = None  # monotonic time the process was first seen gone
        self.degraded_now: set[str] = set()
        self.degraded_seen: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-watch", daemon=True)

    def start(self) -> "WorkerWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.runner.alive() and self.died_at is None:
                self.died_at = time.monotonic()
            degraded = self._degraded()
            if degraded is not None:
                self.degraded_now = degraded
                self.degraded_seen |= degraded
            self.samples += 1
            self._stop.wait(self.interval_s)

    def _degraded(self) -> set[str] | None:
        """Dependencies whose gauge is 1 (None: the endpoint did not answer)."""
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        degraded = set()
        for line in text.splitlines():
            if line.startswith(_GAUGE + "{"):
                labels, value = line.rsplit(" ", 1)
                if float(value) >= 1.0:
                    degraded.add(labels.split('dependency="', 1)[1].split('"', 1)[0])
        return degraded
