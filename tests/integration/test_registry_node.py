"""The local schema registry's JVM (Apicurio Registry) is gone once it is stopped, however the
code that started it ends, and a stale pid file never stops a process that is not the registry."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_stack.registry_node import RegistryNode, RegistrySettings
from tests.e2e.pipeline_harness.private_stack import free_port


def _node(tmp_path: Path) -> RegistryNode:
    return RegistryNode(RegistrySettings(state_dir=tmp_path, port=free_port()))


def _java_pids(node: RegistryNode) -> list[int]:
    """Java processes whose command line names this node's directory (independent of the
    node's own bookkeeping: read from `ps`)."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True)
    home = str(node.home.resolve())
    return [
        int(line.split()[0])
        for line in out.stdout.splitlines()
        if "java" in line and home in line and not line.split()[1].startswith("Z")
    ]


def test_the_jvm_is_gone_after_the_with_block_even_when_it_raised(tmp_path: Path) -> None:
    node = _node(tmp_path)
    with pytest.raises(RuntimeError, match="the test body failed"), node:
        assert node.healthy()
        assert len(_java_pids(node)) == 1
        raise RuntimeError("the test body failed")
    assert _java_pids(node) == []
    assert not node.healthy(timeout_s=0.5)
    assert not node.process.pid_file.exists()


def test_a_jvm_the_pid_file_lost_is_stopped_and_a_stale_pid_spared(tmp_path: Path) -> None:
    node = _node(tmp_path)
    node.up()
    try:
        # The pid file now names another live process (a reused pid): never signal that one.
        bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        node.process.pid_file.write_text(str(bystander.pid))
        assert node.down() is True
        assert _java_pids(node) == []
        assert bystander.poll() is None
    finally:
        for pid in _java_pids(node):
            os.kill(pid, signal.SIGKILL)
        bystander.kill()
        bystander.wait()
    assert node.down() is False  # nothing left to stop
    deadline = time.monotonic() + 5
    while node.healthy(timeout_s=0.2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not node.healthy(timeout_s=0.2)
