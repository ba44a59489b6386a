"""A newcomer's first hour, as written: a short demo, then every command of the README's
"Running the pieces yourself" and every command the demo printed, copied verbatim.

The commands are read from README.md and from the demo's output, never written here: a command
that stops working, or a README line that stops being true, fails this test. Each runs through
bash in a folder of its own (holding `.venv`, like the repository) and must exit 0 and show the
demo's data. Commands documented as "Ctrl-C stops it" run in the background until the next
command needs what they produce, then get SIGINT and must exit 0.

Everything runs on the e2e suite's private Kafka and Redis, reached only through
FEEDBACK_BOOTSTRAP_SERVERS and FEEDBACK_REDIS_URL (and the stack's own FEEDBACK_STACK_* for
`demo`, which starts or finds the stack): the shared broker must see none of it.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from confluent_kafka.admin import AdminClient

from tests.e2e.newcomer_env import REPOSITORY, clone_folder, newcomer_environment
from tests.e2e.pipeline_harness import PrivateStack
from tests.e2e.pipeline_harness.private_stack import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SECTION = "## Running the pieces yourself"
TRANSCRIPT = REPOSITORY / "test-output" / "readme-commands.log"
COMMAND_TIMEOUT_S = 300
READY_TIMEOUT_S = 240
# Short, but long enough that every agent version has sessions of every kind.
DEMO_ARGUMENTS = "--duration 8 --rate 400 --drain-timeout 240 --no-keep-dashboard"


def readme_blocks() -> list[list[str]]:
    """The shell lines of each ```bash block of the section, comments and blanks left out."""
    text = (REPOSITORY / "README.md").read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    lines = [
        [line.strip() for line in block.splitlines() if line.strip() and line[0] != "#"]
        for block in blocks
    ]
    assert lines and all(lines), "the section lists its commands in ```bash blocks"
    return lines


def printed_commands(output: str) -> list[str]:
    """The lines the demo printed under 'explore this run (copy as printed):'."""
    after = output.split("explore this run (copy as printed):", 1)
    assert len(after) == 2, output[-3000:]
    commands = []
    for line in after[1].splitlines()[1:]:  # [0]: the rest of the heading's line
        if not line.startswith("  "):
            break
        commands.append(line.strip())
    assert commands, output[-3000:]
    return commands


def _background(command: str) -> bool:
    return "Ctrl-C stops it" in command


def _words(command: str) -> list[str]:
    return shlex.split(command, comments=True)


@dataclass
class Newcomer:
    """A shell's state across commands: its folder, environment and background commands."""

    folder: Path
    env: dict[str, str]
    running: list[tuple[str, subprocess.Popen[str], Path]] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def save(self) -> Path:
        """The transcript of every command and its output, for people reading a failure."""
        TRANSCRIPT.parent.mkdir(parents=True, exist_ok=True)
        TRANSCRIPT.write_text("\n".join(self.transcript))
        return TRANSCRIPT

    def run(self, command: str) -> str:
        """Run one line as a user would (bash, in the folder); exit 0 expected; its output."""
        words = _words(command)
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            self.env[name] = value
            return ""
        if _background(command):
            return self._start(command)
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        output = result.stdout + result.stderr
        self.transcript.append(f"$ {command}\n{output}")
        self.save()
        assert result.returncode == 0, f"{command!r} exited {result.returncode}:\n{output[-4000:]}"
        return output

    def _start(self, command: str) -> str:
        log = self.folder / f"background-{len(self.running)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        self.running.append((command, process, log))
        return ""

    def interrupt_all(self) -> None:
        """Ctrl-C each background command, newest first; each must exit 0."""
        failures = []
        while self.running:
            command, process, log = self.running.pop()
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
            try:
                code = process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                code = process.wait(timeout=10)
            self.transcript.append(f"$ {command}  (Ctrl-C: exit {code})\n{log.read_text()}")
            if code != 0:
                failures.append(f"{command!r} exited {code}:\n{log.read_text()[-3000:]}")
        assert not failures, "\n".join(failures)

    def check_alive(self) -> None:
        for command, process, log in self.running:
            assert process.poll() is None, f"{command!r} exited:\n{log.read_text()[-3000:]}"


@pytest.fixture()
def newcomer(private_stack: PrivateStack, tmp_path: Path) -> Iterator[Newcomer]:
    """A folder like a fresh clone after `make setup` (its `.venv`), and an environment that
    names the private stack and nothing else of the pipeline."""
    folder = clone_folder(tmp_path)
    env = newcomer_environment(private_stack)
    env.update(
        {
            # The README's `dashboard` on a port nobody else uses (the text stays verbatim).
            "FEEDBACK_DASHBOARD_PORT": str(free_port()),
            "COLUMNS": "250",  # rich tables as wide as a big terminal: no "support-b…"
        }
    )
    person = Newcomer(folder, env)
    try:
        yield person
    finally:
        for _command, process, _log in person.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@dataclass
class DemoData:
    """What the demo's lake holds, read here to recognise it in the commands' output."""

    namespace: str
    agents: set[str]
    versions: set[str]
    turns: int
    enriched_rows: int
    raw_rows: int
    metrics_rows: int

    @classmethod
    def read(cls, folder: Path, namespace: str) -> "DemoData":
        lake = folder / "lake" / namespace
        enriched = pl.read_delta(str(lake / "enriched_interactions"))
        return cls(
            namespace,
            set(enriched["agent_id"].unique().to_list()),
            set(enriched["agent_version"].unique().to_list()),
            enriched["event_id"].n_unique(),
            enriched.height,
            pl.read_delta(str(lake / "raw_events")).height,
            pl.read_delta(str(lake / "quality_metrics")).height,
        )

    def shown_by(self, command: str, output: str) -> bool:
        """The output shows this data, in the way the command shows data."""
        if " lake query " in command:
            return sum(output.count(agent) for agent in self.agents) >= 5
        if " lake history raw_events" in command:
            added = re.findall(r"│ WRITE\s+│ (\d+)", output)
            return sum(int(rows) for rows in added) == self.raw_rows
        if " verify" in command:
            return "no differences" in output and "compared" in output
        if " curate sft" in command or " curate preferences" in command:
            return f"({self.enriched_rows} rows)" in output
        if "pl.read_delta" in command and "quality_metrics" in command:
            return f"shape: ({self.metrics_rows}," in output
        return False  # nothing specific to look for: the caller says what else proves it


def _wait(condition: object, what: str, person: Newcomer) -> None:
    assert callable(condition)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        person.check_alive()
        if condition():
            return
        time.sleep(2)
    raise AssertionError(f"{what} not within {READY_TIMEOUT_S} s")


def _dashboard_shows(port: str, versions: set[str]) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/metrics", timeout=5) as reply:
            body = json.load(reply)
    except OSError:
        return False
    shown = {a["agent_version"]: a["summary"] for a in body["agents"]}
    return set(shown) == versions and all(
        s["interactions"] > 0 and s["completion_rate"] and s["latency_p95_ms"]
        for s in shown.values()
    )


def _table_rows(path: Path) -> int:
    try:
        return pl.read_delta(str(path)).height
    except Exception:  # not written yet
        return 0


def _topic_records(bootstrap: str, topic: str) -> int | None:
    """Records in `topic` on that broker, None when the topic does not exist."""
    from confluent_kafka import Consumer, TopicPartition

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=15)
    if topic not in metadata.topics:
        return None
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "readme-test-offsets"})
    try:
        total = 0
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 15)
            total += high - low
        return total
    finally:
        consumer.close()


def test_the_readme_and_the_demos_commands_work_as_printed(
    newcomer: Newcomer, private_stack: PrivateStack, bootstrap_servers: str
) -> None:
    shared_before = _topic_records(bootstrap_servers, "agent.interactions.v1.mine")

    demo_port = free_port()  # 8050 may serve another dashboard on this machine
    demo_output = newcomer.run(
        f".venv/bin/feedbackctl demo {DEMO_ARGUMENTS} --dashboard-port {demo_port}"
    )
    match = re.search(r"namespace (demo-\d{8}-\d{6})", demo_output)
    assert match, demo_output[-3000:]
    namespace = match.group(1)
    last = Path(newcomer.env["FEEDBACK_STACK_STATE_DIR"]) / "last-namespace"
    assert last.read_text().strip() == namespace
    demo = DemoData.read(newcomer.folder, namespace)
    assert len(demo.versions) == 4 and demo.turns > 100, (demo, newcomer.save())

    # What the demo printed, verbatim: each shows the run's data its own way.
    for command in printed_commands(demo_output):
        output = newcomer.run(command)
        assert demo.shown_by(command, output), (command, output)

    # The README section's first block: the demo's run, without naming it.
    explore, pieces = readme_blocks()
    for command in explore:
        output = newcomer.run(command)
        if _background(command):
            port = newcomer.env["FEEDBACK_DASHBOARD_PORT"]
            _wait(
                lambda port=port: _dashboard_shows(port, demo.versions),
                "the demo's data on the dashboard",
                newcomer,
            )
            continue
        # Read from the demo's namespace (said on stderr), and shown where there is a way to.
        assert f"namespace {namespace}: the last demo's" in output, (command, output)
        specific = (" lake query ", " lake history ", " verify", " curate sft", " curate pref")
        if any(word in command for word in specific):
            assert demo.shown_by(command, output), (command, output)
    newcomer.interrupt_all()

    # The second block: the pipeline piece by piece, in a namespace of one's own.
    for command in pieces:
        if not _background(command) and newcomer.running:
            own = newcomer.env.get("FEEDBACK_NAMESPACE", "")
            enriched = newcomer.folder / "lake" / own / "enriched_interactions"
            _wait(lambda path=enriched: _table_rows(path) > 0, f"rows in {enriched}", newcomer)
        output = newcomer.run(command)
        if " lake query " in command:
            assert sum(output.count(agent) for agent in demo.agents) >= 5, output
    newcomer.interrupt_all()

    # Every command went to the broker FEEDBACK_BOOTSTRAP_SERVERS names, none to the shared one.
    own = newcomer.env["FEEDBACK_NAMESPACE"]
    assert _topic_records(private_stack.bootstrap_servers, f"agent.interactions.v1.{own}")
    assert _topic_records(bootstrap_servers, f"agent.interactions.v1.{own}") == shared_before
    assert _topic_records(bootstrap_servers, f"agent.interactions.v1.{namespace}") is None
    newcomer.save()
