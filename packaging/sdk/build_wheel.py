"""Builds the light SDK's wheel (`agent-feedback-sdk`) from the repository's own sources.

    python packaging/sdk/build_wheel.py --out dist/

The wheel holds `producers`, `schemas` and the few `plumbing` modules they import, moved under
the one top-level package `agent_feedback_sdk` (their imports rewritten to match), so that an
agent's environment gains no generic top-level names such as `schemas` or `producers`. The
sources stay where they are: the full distribution keeps its module names, and nothing in the
repository imports `agent_feedback_sdk`. Why not setuptools' `package-dir`: it cannot reach
sources outside the folder of this pyproject.toml, nor move them under a new parent package.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["PACKAGE", "build_wheel", "stage"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = "agent_feedback_sdk"
# What the SDK's modules import from the shared plumbing (checked when staging).
PLUMBING = (
    "__init__",
    "environment",
    "errors",
    "kafka_security",
    "kafka_settings",
    "observability",
    "settings",
)
TOP_LEVEL = ("producers", "schemas", "plumbing")
_IMPORT = re.compile(rf"^(\s*)(from|import) ({'|'.join(TOP_LEVEL)})\b", re.MULTILINE)
_RESOURCE = re.compile(rf"resources\.files\(\"({'|'.join(TOP_LEVEL)})\"\)")

INIT = f'''"""The producer SDK of the agent feedback pipeline (the light distribution).

    from {PACKAGE} import FeedbackClient
"""

from {PACKAGE}.producers import (
    AsyncFeedbackClient,
    DeliveryFailedError,
    FeedbackClient,
    InvalidRecordError,
    ProducerClosedError,
    ProducerError,
    ProducerSettings,
    ProducerStats,
    ProducerTopics,
    QueueFullError,
)
from {PACKAGE}.plumbing.observability import start_metrics_server

__all__ = [
    "AsyncFeedbackClient",
    "DeliveryFailedError",
    "FeedbackClient",
    "InvalidRecordError",
    "ProducerClosedError",
    "ProducerError",
    "ProducerSettings",
    "ProducerStats",
    "ProducerTopics",
    "QueueFullError",
    "start_metrics_server",
]
'''


def rewrite(source: str) -> str:
    """Imports of the moved packages, and their resource lookups, under `PACKAGE`."""
    source = _IMPORT.sub(rf"\1\2 {PACKAGE}.\3", source)
    return _RESOURCE.sub(rf'resources.files("{PACKAGE}.\1")', source)


def stage(target: Path) -> Path:
    """A buildable project in `target`: pyproject, README and the rewritten package."""
    package = target / PACKAGE
    package.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(HERE / name, target / name)
    (package / "__init__.py").write_text(INIT)
    for folder in ("producers", "schemas"):
        shutil.copytree(
            ROOT / folder,
            package / folder,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"),
        )
    (package / "plumbing").mkdir()
    for module in PLUMBING:
        shutil.copy(ROOT / "plumbing" / f"{module}.py", package / "plumbing" / f"{module}.py")
    for path in package.rglob("*.py"):
        path.write_text(rewrite(path.read_text()))
    leftover = [
        f"{path.relative_to(target)}: {match.group(0).strip()}"
        for path in package.rglob("*.py")
        for match in re.finditer(
            rf"^\s*(?:from|import) (?:{'|'.join(TOP_LEVEL)})\b", path.read_text(), re.MULTILINE
        )
    ]
    if leftover:
        raise SystemExit("imports left outside the package: " + "; ".join(leftover))
    return target


def build_wheel(out: Path) -> Path:
    """Build the wheel into `out`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agent-feedback-sdk-") as tmp:
        project = stage(Path(tmp) / "project")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--wheel-dir", str(out), str(project)],
            check=True,
        )  # fmt: skip
    wheels = sorted(out.glob("agent_feedback_sdk-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise SystemExit(f"no wheel was written to {out}")
    return wheels[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="wheel folder")
    print(build_wheel(parser.parse_args().out))


if __name__ == "__main__":
    main()
