"""`feedbackctl curate sft | preferences | purge`: training data from a pinned lake version, and
its rewrite without erased users."""

import time
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from curation import CurationError, CurationOptions, CurationResult, CurationSettings
from curation.pipeline import STAGES, curate_preferences, curate_sft
from curation.purge import purge_datasets
from curation.settings import CURATION_ENV_PREFIX
from plumbing.logs import warn_deprecated
from schemas.erasure_ledger import ledger_paths, read_ledger
from schemas.exceptions import ContractError, LakePathError

__all__ = ["curate_app"]

curate_app = typer.Typer(
    help="Build SFT and preference datasets from the enriched lake table.", no_args_is_help=True
)
console = Console()


def _env(field: str) -> str:
    return f"env {CURATION_ENV_PREFIX}{field.upper()}"


LAKE_URI = typer.Option(None, "--lake-uri", help=f"Lake root ({_env('lake_uri')}).")
NAMESPACE = typer.Option(
    None,
    "--namespace",
    help="Namespace of the lake tables, as for `lake` (env FEEDBACK_NAMESPACE; default the "
    "last demo's).",
)
PREFIX = typer.Option(
    None, "--prefix", hidden=True, help="Deprecated: --namespace (a prefix is `<namespace>/`)."
)


def _table_prefix(settings: CurationSettings, namespace: str | None, prefix: str | None) -> str:
    """`<namespace>/` of the tables: --namespace, else the deprecated --prefix, else settings."""
    if prefix is not None:
        warn_deprecated("curate --prefix NAME/", "curate --namespace NAME")
    if namespace is not None:
        return f"{namespace.rstrip('/')}/" if namespace else ""
    return settings.lake_prefix if prefix is None else prefix


VERSION = typer.Option(None, "--version", help="Delta version to read (default: latest).")
OUTPUT = typer.Option(
    None,
    "--output",
    help="Output directory (default {output_root}/<namespace or live>/<name>-v<version>, "
    f"{_env('output_root')}).",
)
OVERWRITE = typer.Option(
    False, "--overwrite", help="Replace an existing dataset in the output directory."
)
MIN_REWARD = typer.Option(
    None, "--min-reward", help=f"Lowest accepted reward ({_env('min_reward')})."
)
MIN_CONFIDENCE = typer.Option(
    None, "--min-confidence", help=f"Lowest accepted confidence ({_env('min_confidence')})."
)
COMPLETED_ONLY = typer.Option(
    None,
    "--completed-only/--any-outcome",
    help=f"Accept turns of completed sessions only ({_env('completed_only')}).",
)
DROP_TOOL_ERRORS = typer.Option(
    None,
    "--drop-tool-errors/--keep-tool-errors",
    help=f"Drop turns with a failed tool call ({_env('drop_tool_errors')}).",
)
DEDUP = typer.Option(None, "--dedup", help=f"none, exact or near ({_env('dedup')}).")
SCRUB = typer.Option(
    None, "--scrub-pii/--no-scrub-pii", help=f"PII scrubbing ({_env('scrub_pii')})."
)
RAW_LINEAGE = typer.Option(
    False,
    "--raw-lineage/--no-raw-lineage",
    help="Add each turn's original interaction coordinates from raw_events.",
)
RAW_VERSION = typer.Option(
    None, "--raw-version", help="raw_events version for --raw-lineage (default: latest)."
)
EVAL_SHARE = typer.Option(
    None, "--eval-share", help=f"Share of sessions in eval ({_env('eval_share')})."
)
SELECTION = typer.Option(
    None,
    "--selection",
    help="label_model (default: P(good) from all the evidence, at --target-precision) or "
    f"explicit_praise (the reward and praise rules) ({_env('selection')}).",
)
TARGET_PRECISION = typer.Option(
    None,
    "--target-precision",
    help="Share of good answers the label model must expect among the kept ones "
    f"(default 0.97; {_env('target_precision')}).",
)

ATTACHMENTS = typer.Option(
    None,
    "--attachments/--no-attachments",
    help="User messages of turns with attachments get image / audio / file content parts, by "
    f"lake URI and sha256 (default off; {_env('attachments')}).",
)


def _settings_and_options(**overrides: Any) -> tuple[CurationSettings, CurationOptions]:
    try:
        settings = CurationSettings()
        return settings, settings.options(**overrides)
    except ValidationError as exc:
        console.print(f"[red]invalid curation option:[/red] {exc}")
        raise typer.Exit(code=2) from exc


def _run(build: Any, name: str, **kwargs: Any) -> CurationResult:
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{name}: start", total=len(STAGES))

        def on_stage(stage: str) -> None:
            progress.update(task, description=f"{name}: {stage}", completed=STAGES.index(stage))

        try:
            result: CurationResult = build(progress=on_stage, **kwargs)
        except CurationError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
        progress.update(task, completed=len(STAGES))
    _report(result, time.perf_counter() - started)
    return result


def _report(result: CurationResult, seconds: float) -> None:
    manifest = result.manifest
    steps = Table("filter", "rows in", "rows out", "description", title="Filters")
    for step in manifest["filters"]:
        steps.add_row(
            step["name"], str(step["rows_in"]), str(step["rows_out"]), step["description"]
        )
    console.print(steps)
    datasets = Table("dataset", "train", "eval", "labels", title="Datasets")
    for name, dataset in manifest["datasets"].items():
        labels = "; ".join(
            f"{field}: " + ", ".join(f"{k}={v}" for k, v in values.items())
            for field, values in dataset["labels"].items()
        )
        datasets.add_row(name, str(dataset["rows"]["train"]), str(dataset["rows"]["eval"]), labels)
    console.print(datasets)
    for name, dataset in manifest["datasets"].items():
        estimate = dataset.get("label_model")
        if estimate and "estimated_precision" in estimate:
            console.print(
                f"{name}: label model keeps P(good) >= {estimate['accept_at_or_above']}; "
                f"expected precision {estimate['estimated_precision']} "
                f"(95% {estimate['estimated_precision_95']}), recall of good turns "
                f"{estimate['estimated_recall']} (95% {estimate['estimated_recall_95']})"
            )
    scrubbed = ", ".join(f"{kind}={count}" for kind, count in manifest["pii_scrubbed"].items())
    rows = manifest["source"]["rows_read"]
    console.print(
        f"Delta version {manifest['source']['delta_version']} ({rows} rows) -> "
        f"{result.output_dir}\nPII scrubbed: {scrubbed or 'off'}\n"
        f"output sha256 {manifest['output_sha256']}\n"
        f"{seconds:.2f} s, {rows / seconds if seconds else 0:,.0f} rows/s"
    )


@curate_app.command("sft")
def sft(
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    prefix: str | None = PREFIX,
    version: int | None = VERSION,
    output: Path | None = OUTPUT,
    min_reward: float | None = MIN_REWARD,
    min_confidence: float | None = MIN_CONFIDENCE,
    completed_only: bool | None = COMPLETED_ONLY,
    drop_tool_errors: bool | None = DROP_TOOL_ERRORS,
    dedup: str | None = DEDUP,
    scrub_pii: bool | None = SCRUB,
    eval_share: float | None = EVAL_SHARE,
    selection: str | None = SELECTION,
    target_precision: float | None = TARGET_PRECISION,
    attachments: bool | None = ATTACHMENTS,
    raw_lineage: bool = RAW_LINEAGE,
    raw_version: int | None = RAW_VERSION,
    overwrite: bool = OVERWRITE,
    unit: str | None = typer.Option(
        None,
        "--unit",
        help=f"turn or session: one example per accepted turn or session ({_env('unit')}).",
    ),
    include_corrections: bool | None = typer.Option(
        None,
        "--corrections/--no-corrections",
        help=f"Corrections become examples ({_env('include_corrections')}).",
    ),
) -> None:
    """Chat-format SFT examples (JSONL + Parquet, train/eval) and their manifest."""
    settings, options = _settings_and_options(
        selection=selection,
        target_precision=target_precision,
        min_reward=min_reward,
        min_confidence=min_confidence,
        completed_only=completed_only,
        drop_tool_errors=drop_tool_errors,
        dedup=dedup,
        scrub_pii=scrub_pii,
        eval_share=eval_share,
        attachments=attachments,
        unit=unit,
        include_corrections=include_corrections,
    )
    _run(
        curate_sft,
        "sft",
        lake_uri=lake_uri or settings.lake_uri,
        options=options,
        output_dir=output,
        output_root=settings.output_root,
        prefix=_table_prefix(settings, namespace, prefix),
        version=version,
        raw_lineage=raw_lineage,
        raw_version=raw_version,
        overwrite=overwrite,
    )


@curate_app.command("preferences")
def preferences(
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    prefix: str | None = PREFIX,
    version: int | None = VERSION,
    output: Path | None = OUTPUT,
    min_reward: float | None = MIN_REWARD,
    min_confidence: float | None = MIN_CONFIDENCE,
    completed_only: bool | None = COMPLETED_ONLY,
    drop_tool_errors: bool | None = DROP_TOOL_ERRORS,
    dedup: str | None = DEDUP,
    scrub_pii: bool | None = SCRUB,
    eval_share: float | None = EVAL_SHARE,
    selection: str | None = SELECTION,
    target_precision: float | None = TARGET_PRECISION,
    attachments: bool | None = ATTACHMENTS,
    raw_lineage: bool = RAW_LINEAGE,
    raw_version: int | None = RAW_VERSION,
    overwrite: bool = OVERWRITE,
    retry_evidence: str | None = typer.Option(
        None,
        "--retry-evidence",
        help="praised or moved_on: which retries beat the attempt they retried "
        f"({_env('retry_evidence')}).",
    ),
) -> None:
    """Preference pairs (prompt/chosen/rejected) and KTO examples, with their manifest."""
    settings, options = _settings_and_options(
        selection=selection,
        target_precision=target_precision,
        min_reward=min_reward,
        min_confidence=min_confidence,
        completed_only=completed_only,
        drop_tool_errors=drop_tool_errors,
        dedup=dedup,
        scrub_pii=scrub_pii,
        eval_share=eval_share,
        attachments=attachments,
        retry_evidence=retry_evidence,
    )
    _run(
        curate_preferences,
        "preferences",
        lake_uri=lake_uri or settings.lake_uri,
        options=options,
        output_dir=output,
        output_root=settings.output_root,
        prefix=_table_prefix(settings, namespace, prefix),
        version=version,
        raw_lineage=raw_lineage,
        raw_version=raw_version,
        overwrite=overwrite,
    )


@curate_app.command("purge")
def purge(
    lake_uri: str | None = LAKE_URI,
    namespace: str | None = NAMESPACE,
    prefix: str | None = PREFIX,
    root: Path | None = typer.Option(
        None, "--root", help=f"Folder of the datasets to purge ({_env('output_root')})."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count the rows; write nothing."),
) -> None:
    """Rewrite every dataset under --root without the rows of users in the erasure ledger.

    `feedbackctl lake erase` does this for the user it erases; run it for datasets kept
    elsewhere or copied back, against every erasure recorded in the lake (and the prefix's).
    """
    settings, _ = _settings_and_options()
    lake = lake_uri or settings.lake_uri
    table_prefix = _table_prefix(settings, namespace, prefix)
    folder = root or Path(settings.output_root)
    try:
        identities = read_ledger(ledger_paths(lake, table_prefix))
        results = purge_datasets(folder, identities, dry_run=dry_run)
    except (CurationError, ContractError, LakePathError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    verb = "would remove" if dry_run else "removed"
    for result in results:
        console.print(f"{result.directory}: {verb} {result.total} rows", soft_wrap=True)
    console.print(
        f"{len(results)} datasets under {folder} checked against {len(identities)} erasures",
        soft_wrap=True,
    )
