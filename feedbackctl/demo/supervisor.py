"""Runs the pipeline's services as child processes and stops them cleanly, whatever happens."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ChildService", "Supervisor"]


@dataclass
class ChildService:
    """One `python -m feedbackctl ...` child with its own log file."""

    name: str
    args: list[str]
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "feedbackctl", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops the children
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout_s: float) -> None:
        """SIGTERM, wait, then SIGKILL."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Supervisor:
    """Starts services in order and stops them in reverse order."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.children: list[ChildService] = []

    def start(self, name: str, *args: str) -> ChildService:
        child = ChildService(name, list(args), self.log_dir / f"{name}.log", dict(self.env))
        child.start()
        self.children.append(child)
        return child

    def failed(self) -> list[ChildService]:
        """Children that exited on their own with an error."""
        return [c for c in self.children if c.exit_code not in (None, 0)]

    def stop(self, child: ChildService, timeout_s: float = 20.0) -> None:
        child.stop(timeout_s)

    def stop_all(self, timeout_s: float = 20.0) -> None:
        for child in reversed(self.children):
            child.stop(timeout_s)

    @staticmethod
    def wait(child: ChildService, timeout_s: float) -> bool:
        """Wait for a child to exit by itself; True if it did."""
        deadline = time.monotonic() + timeout_s
        while child.running and time.monotonic() < deadline:
            time.sleep(0.2)
        return not child.running
