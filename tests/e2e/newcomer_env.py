"""The environment of a person running `feedbackctl` from a fresh clone, on the private stack.

Only FEEDBACK_BOOTSTRAP_SERVERS and FEEDBACK_REDIS_URL name where the pipeline runs (every
service reads them), and FEEDBACK_STACK_* let `feedbackctl demo` find the private stack running;
no other FEEDBACK_* variable of the test process leaks in.
"""

import os
from pathlib import Path

from tests.e2e.pipeline_harness import PrivateStack

__all__ = ["REPOSITORY", "clone_folder", "newcomer_environment"]

REPOSITORY = Path(__file__).resolve().parents[2]
_PLAIN = ("FEEDBACK_PURE_PYTHON", "FEEDBACK_COMPILED_DIR")


def clone_folder(parent: Path) -> Path:
    """A folder holding `.venv` like the repository after `make setup`, and nothing else."""
    folder = parent / "clone"
    folder.mkdir()
    (folder / ".venv").symlink_to(REPOSITORY / ".venv")
    return folder


def newcomer_environment(stack: PrivateStack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_") or k in _PLAIN}
    settings = stack.stack.settings
    env.update(
        {
            "FEEDBACK_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
            "FEEDBACK_REDIS_URL": stack.redis_url,
            "FEEDBACK_STACK_STATE_DIR": str(settings.state_dir),
            "FEEDBACK_STACK_KAFKA_PORT": str(settings.kafka_port),
            "FEEDBACK_STACK_KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
            "FEEDBACK_STACK_REDIS_PORT": str(settings.redis_port),
        }
    )
    return env
