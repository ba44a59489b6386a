"""`Lake`: where the tables live (root URI, namespace prefix, object-store options)."""

from dataclasses import dataclass, field
from datetime import datetime

from deltalake import DeltaTable

from plumbing.settings import DEFAULT_LAKE_URI
from schemas.lake import LAKE_TABLES
from schemas.lake_paths import check_table_name, check_table_prefix
from sinks.exceptions import TableNotFoundInLakeError
from sinks.lake_damage import translated_errors
from sinks.settings import SinkSettings

__all__ = ["ERASURES_TABLE", "TABLE_NAMES", "Lake"]

ERASURES_TABLE = "erasures"
TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in LAKE_TABLES)


@dataclass(frozen=True)
class Lake:
    """A lake root. `prefix` selects a replay namespace (`<namespace>/`)."""

    uri: str = DEFAULT_LAKE_URI
    prefix: str = ""
    storage_options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> "Lake":
        return cls(settings.lake_uri, settings.table_prefix, dict(settings.storage_options))

    def __post_init__(self) -> None:
        check_table_prefix(self.prefix)  # LakePathError: never a table outside the root

    def path(self, name: str) -> str:
        """URI of a table of this lake."""
        return f"{self.uri.rstrip('/')}/{self.prefix}{check_table_name(name)}"

    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(self.path(name), self.storage_options or None)

    def open(
        self, name: str, version: int | None = None, as_of: datetime | str | None = None
    ) -> DeltaTable:
        """The table at its latest version, at `version`, or as of a time (time travel).

        A damaged table raises `DamagedTableError` / `BrokenLogError`, a version past the
        latest `NoSuchVersionError` (`sinks.lake_damage`). A `version` loads only the log up to
        it, so time travel before a broken commit still works.
        """
        if version is not None and as_of is not None:
            raise ValueError("give a version or a time, not both")
        if not self.exists(name):
            raise TableNotFoundInLakeError(
                f"no Delta table at {self.path(name)}; run `feedbackctl sink` first, or check "
                "--lake-uri and --namespace"
            )
        options = self.storage_options or None
        with translated_errors(self, name, version, time_travel=version is not None):
            table = DeltaTable(self.path(name), version=version, storage_options=options)
            if as_of is not None:
                table.load_as_version(
                    datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
                )
        return table
