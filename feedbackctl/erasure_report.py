"""What `lake erase` prints, and its propagation to curated datasets (the CLI wires the two).

`sinks` may not import `curation` nor the other way round, so the step that hands an erasure
to `curation.purge` lives here: after the lake and the ledger, every dataset under the
curation output root is rewritten without the user's rows. When the lake has nothing left of
the user (an erasure interrupted after its ledger record, or run again), the earlier ledger
entries of the same id still drive the purge, so running `erase` again finishes the job.
"""

from pathlib import Path

from rich.console import Console
from rich.table import Table

from curation.purge import DatasetPurge, purge_datasets
from curation.settings import CurationSettings
from schemas.erasure_ledger import ErasedIdentities, read_ledger
from sinks.erasure import ErasureReport
from sinks.lake import ERASURES_TABLE, Lake

__all__ = ["datasets_root", "print_erasure", "propagate_erasure"]

_TIME = "%Y-%m-%dT%H:%M:%SZ"


def propagate_erasure(
    report: ErasureReport, lake: Lake, user_id: str, datasets_root: Path
) -> list[DatasetPurge]:
    """Rewrite the datasets under `datasets_root` without the user's rows (counts only in a
    dry run)."""
    identities = read_ledger([lake.path(ERASURES_TABLE)], lake.storage_options).for_user(user_id)
    if report.recorded or (report.dry_run and report.rows_matched):
        identities = ErasedIdentities((report.ledger_entry(),)).merged(identities)
    return purge_datasets(datasets_root, identities, dry_run=report.dry_run)


def print_erasure(
    console: Console, report: ErasureReport, lake: Lake, datasets: list[DatasetPurge]
) -> None:
    """The erasure report: tables, Kafka copies and until when, datasets rewritten."""
    if report.dry_run:
        for item in report.tables:
            console.print(
                f"{item.table_name}: would delete {item.rows_matched} rows "
                f"(keep {item.unattributed_rows} unattributed)"
            )
    else:
        console.print(_erasure_table(report))
    _print_copies(console, report)
    _print_datasets(console, report, datasets)
    if report.dry_run:
        console.print(
            f"dry run: {report.rows_matched} rows of {report.sessions} sessions would be "
            "deleted; nothing written"
        )
    elif not report.recorded:
        console.print("nothing matched: nothing deleted, nothing written")
    else:
        console.print(
            f"erasure {report.erasure_id}: {report.rows_deleted} rows of {report.sessions} "
            f"sessions; recorded in the ledger {lake.path(ERASURES_TABLE)}",
            soft_wrap=True,
        )
    if report.unattributed_rows:
        console.print(
            f"kept {report.unattributed_rows} rows that hold only undecodable bytes and no "
            "session key: nothing says whose they are (check them by hand)"
        )
    attached = report.attachments
    if attached.folders:
        verb = "removed" if attached.removed else "would remove"
        where = f" ({attached.unsupported})" if attached.unsupported else ""
        console.print(
            f"attachments: {verb} {attached.files} files ({attached.bytes} bytes) in "
            f"{len(attached.folders)} session folders{where}",
            soft_wrap=True,
        )


def _erasure_table(report: ErasureReport) -> Table:
    out = Table(
        "table", "rows deleted", "version", "files vacuumed", "unattributed kept", "selection"
    )
    for item in report.tables:
        out.add_row(
            item.table_name,
            str(item.rows_deleted),
            f"{item.version_before} -> {item.version_after}",
            str(item.vacuumed_files),
            str(item.unattributed_rows),
            item.selection,
        )
    return out


def _print_copies(console: Console, report: ErasureReport) -> None:
    for copy in report.kafka_copies:
        until = (
            copy.retained_until.strftime(_TIME)
            if copy.retained_until
            else "its configured retention (not in the topic registry)"
        )
        console.print(
            f"copy remains: Kafka topic {copy.topic} until {until} at the earliest "
            f"(last message {copy.last_message_at.strftime(_TIME)}; Kafka deletes whole "
            "segments, so up to segment.ms later)",
            soft_wrap=True,
        )
    if report.kafka_copies:
        console.print(
            "copy remains: the processor's Redis state until the user's sessions close and "
            "expire; replays and backfills skip the user's events by the ledger",
            soft_wrap=True,
        )


def _print_datasets(console: Console, report: ErasureReport, datasets: list[DatasetPurge]) -> None:
    verb = "would remove" if report.dry_run else "removed"
    for purge in datasets:
        if purge.total or purge.rows_removed:
            console.print(
                f"curated dataset {purge.directory}: {verb} {purge.total} rows "
                f"({', '.join(f'{stem}: {n}' for stem, n in purge.rows_removed.items())})",
                soft_wrap=True,
            )
    untouched = sum(1 for purge in datasets if not purge.rows_removed)
    if untouched:
        console.print(f"{untouched} curated datasets hold none of the user's rows", soft_wrap=True)


def datasets_root(override: Path | None) -> Path:
    """Where `erase` looks for curated datasets: the flag, else curation's output root."""
    return override if override is not None else Path(CurationSettings().output_root)
