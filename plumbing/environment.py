"""Unknown FEEDBACK_* environment variables are an error: the registry of valid names, the check.

pydantic-settings reads the variables that name a field and ignores every other one, so a typo
(`FEEDBACK_SINK_FLUSH_LATENCYY_S`) or a setting no service has (`FEEDBACK_PROCESSOR_KAFKA_CONFIG`)
would leave the default in force without a word. Every settings class registers its prefix and
fields here when it is defined (`plumbing.settings.ServiceSettings` does it for its subclasses);
`check_environment` then refuses any FEEDBACK_* variable that is neither one of those nor in
`PLAIN_VARIABLES`, naming the closest valid name.

Two scopes: a service checks only the variables under its own prefix when it loads its
settings (a shared ConfigMap gives every process every service's variables, and a service does
not import the others' settings), while the CLI, which imports every settings class, checks them
all before any command runs.
"""

import difflib
import os
from collections.abc import Iterable, Mapping

from plumbing.errors import FeedbackPipelineError

__all__ = [
    "ENV_PREFIX",
    "PLAIN_VARIABLES",
    "UnknownSettingError",
    "check_environment",
    "known_variables",
    "register_settings",
    "unknown_variables",
]

ENV_PREFIX = "FEEDBACK_"
# Variables the project reads with os.environ rather than through a settings class, and who.
PLAIN_VARIABLES: dict[str, str] = {
    "FEEDBACK_PURE_PYTHON": "plumbing.compiled.loader: run the join logic as pure Python",
    "FEEDBACK_COMPILED_DIR": "plumbing.compiled.loader: where the compiled modules are",
    "FEEDBACK_NAMESPACE": "plumbing.settings: the namespace of every service (--namespace)",
    "FEEDBACK_BOOTSTRAP_SERVERS": "plumbing.settings: Kafka of every service (--bootstrap-servers)",
    "FEEDBACK_REDIS_URL": "plumbing.settings: Redis of every service (--redis-url)",
    "FEEDBACK_LOG_LEVEL": "plumbing.logs: log level of every process (--log-level)",
    "FEEDBACK_LOG_FORMAT": "plumbing.logs: text or json log lines of every process (--log-format)",
    "FEEDBACK_LOG_JSON": "plumbing.logs: deprecated, FEEDBACK_LOG_FORMAT=json",
    "FEEDBACK_SINK_CRASH_AT": "sinks.crash_points: test hook that kills the sink",
    "FEEDBACK_PROCESSOR_CRASH_AT": "stream_processors.runtime: test hook that kills the worker",
    "FEEDBACK_E2E_KEEP_STACK_DATA": "tests/e2e: keep the private stack's data",
    "FEEDBACK_IMAGE_TAG": "docker-compose.yml: tag of the project's image",
}
_REGISTERED: dict[str, set[str]] = {}


class UnknownSettingError(FeedbackPipelineError):
    """A FEEDBACK_* variable names no setting; commands stop with `exit_code`."""

    exit_code = 2


def register_settings(prefix: str, fields: Iterable[str]) -> None:
    """Declare the variables `<prefix><FIELD>` valid (a settings class with that env prefix)."""
    _REGISTERED.setdefault(prefix.upper(), set()).update(f"{prefix}{f}".upper() for f in fields)


def known_variables() -> frozenset[str]:
    """Every valid FEEDBACK_* name: the registered settings' and the plain variables."""
    names = set(PLAIN_VARIABLES)
    for fields in _REGISTERED.values():
        names |= fields
    return frozenset(names)


def unknown_variables(
    environ: Mapping[str, str] | None = None, prefixes: Iterable[str] = (ENV_PREFIX,)
) -> list[str]:
    """The FEEDBACK_* variables under `prefixes` that are no valid name, sorted."""
    wanted = tuple(p.upper() for p in prefixes)
    known = known_variables()
    names = (name.upper() for name in (os.environ if environ is None else environ))
    return sorted(n for n in names if n.startswith(wanted) and n not in known)


def check_environment(
    environ: Mapping[str, str] | None = None, prefixes: Iterable[str] = (ENV_PREFIX,)
) -> None:
    """Raise UnknownSettingError naming each unknown variable and the closest valid name."""
    unknown = unknown_variables(environ, prefixes)
    if not unknown:
        return
    known = sorted(known_variables())
    lines = [f"{name}: {_suggestion(name, known)}" for name in unknown]
    raise UnknownSettingError(
        "unknown setting" + ("s" if len(unknown) > 1 else "") + " in the environment (no "
        "settings field reads them; a typo would leave the default in force):\n  "
        + "\n  ".join(lines)
        + "\nFix or unset them; the settings are listed in the README (Configuration)."
    )


def _suggestion(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "no similar setting exists"
