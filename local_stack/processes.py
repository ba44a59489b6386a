"""Detached service processes: pid files, port checks, and stopping with SIGTERM then SIGKILL."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from local_stack.exceptions import StackError

__all__ = ["ServiceProcess", "accepts_connections", "port_is_free", "stop_pid"]


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (we can bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def accepts_connections(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class ServiceProcess:
    """One long-running service started in its own session, tracked by a pid file."""

    def __init__(self, name: str, pid_file: Path, log_file: Path) -> None:
        self.name = name
        self.pid_file = pid_file
        self.log_file = log_file

    @property
    def pid(self) -> int | None:
        """The pid of the running service, or None (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            return None
        return pid

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Start argv detached from this process; its output goes to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **(env or {})},
                )
            except FileNotFoundError as exc:
                raise StackError(f"cannot start {self.name}: {argv[0]} not found") from exc
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def exited_early(self) -> bool:
        """True when the process we started is gone (e.g. it failed at start-up)."""
        return self.pid is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def kill(self) -> bool:
        """SIGKILL (kill -9: no shutdown hook runs), as a crash would. True if it was running."""
        pid = self.pid
        if pid is None:
            return False
        _signal_group(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM, wait up to timeout_s, then SIGKILL. Returns True if it was running."""
        pid = self.pid
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        stop_pid(pid, timeout_s)
        self.pid_file.unlink(missing_ok=True)
        return True


def stop_pid(pid: int, timeout_s: float) -> None:
    """SIGTERM to the process group `pid` leads, wait up to timeout_s, then SIGKILL."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """The whole group `pid` leads; `pid` alone when it leads none (else a SIGKILL that reached
    no process would leave `stop_pid` waiting for it forever)."""
    try:
        os.killpg(pid, sig)
        return
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return _not_zombie(pid)
    return waited == 0


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
