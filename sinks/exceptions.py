"""Errors of the sink and of lake maintenance, under the project's root exception."""

from plumbing.errors import FeedbackPipelineError

__all__ = [
    "BrokenLogError",
    "DamagedTableError",
    "LakeError",
    "NoSuchVersionError",
    "SinkError",
    "TableNotFoundInLakeError",
    "VacuumedVersionError",
]


class SinkError(FeedbackPipelineError):
    """The sink cannot go on (Kafka or Delta refused something it must have)."""


class LakeError(FeedbackPipelineError):
    """A lake maintenance or read operation failed."""


class TableNotFoundInLakeError(LakeError):
    """The Delta table does not exist (run the sink first, or check --lake-uri / --namespace)."""


class DamagedTableError(LakeError):
    """A table's data files or log are not what its log says: one line names the table, the
    version, the file and the command that repairs it, so nobody has to read a delta-rs trace.

    `version` and `file` are None when unknown; `hint` is the command (or step) that repairs it.
    `feedbackctl sink` exits with `exit_code` on it (65, EX_DATAERR of sysexits.h): restarting
    cannot help, unlike a crash (1), so a supervisor can tell the two apart.
    """

    exit_code = 65

    def __init__(
        self, table: str, version: int | None, file: str | None, problem: str, hint: str
    ) -> None:
        self.table = table
        self.version = version
        self.file = file
        self.problem = problem
        self.hint = hint
        at = f" at version {version}" if version is not None else ""
        super().__init__(f"table {table} is damaged{at}: {problem}; repair: {hint}")


class BrokenLogError(DamagedTableError):
    """A commit of the Delta log (`_delta_log/NNN.json`) is missing or cannot be parsed.

    `lake repair` does not guess here: it prints the procedure (docs/lake.md, Damaged tables).
    """


class VacuumedVersionError(LakeError):
    """Time travel to a version whose data files vacuum removed: nothing can bring them back."""

    def __init__(self, table: str, version: int, oldest_readable: int | None) -> None:
        self.table = table
        self.version = version
        self.oldest_readable = oldest_readable
        oldest = (
            f"the oldest readable version is {oldest_readable}"
            if oldest_readable is not None
            else "no older version is readable"
        )
        super().__init__(f"version {version} of {table} was vacuumed: its files are gone; {oldest}")


class NoSuchVersionError(LakeError):
    """Time travel past the latest version."""

    def __init__(self, table: str, version: int, latest: int | None) -> None:
        self.table = table
        self.version = version
        self.latest = latest
        last = f"; the latest is {latest}" if latest is not None else ""
        super().__init__(f"{table} has no version {version}{last}")
