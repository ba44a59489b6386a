"""Throughput of `curate sft` on a lake of >= 1,000,000 enriched rows.

The lake is synthetic but realistic: the traffic generator's sessions (texts, tools, sparse and
noisy feedback, retries, revisions, duplicate rows, PII) labelled as in the curation tests, then
replicated with fresh session and event ids until the row count is reached, and written with
`write_deltalake` in large batches, as the sink does. Prints the time of each stage, the floor
(reading the same table into Arrow) and rows/s. Default options: the label model is on (its fit
is in the `label` stage, its selection in `select`); `--selection explicit_praise` times the
older rules.

    python benchmarks/curation_throughput.py                # 1,000,000 rows in a temp dir
    python benchmarks/curation_throughput.py --rows 2000000 --lake /tmp/bench-lake --keep
"""

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation import CurationOptions, curate_sft
from curation.pipeline import STAGES
from curation.source import read_columns
from producers.traffic import TrafficConfig
from schemas.lake import ENRICHED_INTERACTIONS
from tests.unit.curation.generated_lake import enriched_rows


def _template(sessions: int) -> pl.DataFrame:
    rows, _ = enriched_rows(TrafficConfig(sessions=sessions, seed=2026))
    table = pa.Table.from_pylist(
        [{**row, "event_date": None} for row in rows],
        schema=ENRICHED_INTERACTIONS.arrow_schema().set(
            ENRICHED_INTERACTIONS.arrow_schema().get_field_index("event_date"),
            pa.field("event_date", pa.date32(), nullable=True),
        ),
    )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(event_date=pl.col("event_time").dt.date())


def _replica(template: pl.DataFrame, index: int) -> pl.DataFrame:
    """The template with fresh ids (suffix -r<index>) and later Kafka offsets."""
    suffix = f"-r{index}"
    return template.with_columns(
        session_id=pl.col("session_id") + suffix,
        event_id=pl.col("event_id") + suffix,
        retry_of=pl.col("retry_of") + suffix,
        kafka_offset=pl.col("kafka_offset") + index * template.height,
        feedback=pl.col("feedback").list.eval(
            pl.element().struct.with_fields(pl.field("event_id") + suffix)
        ),
        signals=pl.col("signals").list.eval(
            pl.element().struct.with_fields(
                pl.field("event_id") + suffix, pl.field("interaction_id") + suffix
            )
        ),
    )


def build_lake(lake: Path, rows: int, batch_rows: int) -> int:
    """Write >= `rows` enriched rows in batches of about `batch_rows`; return the count."""
    template = _template(sessions=4000)
    schema = ENRICHED_INTERACTIONS.arrow_schema()
    path = ENRICHED_INTERACTIONS.path(str(lake))
    written, replica, pending = 0, 0, []
    while written < rows:
        pending.append(_replica(template, replica))
        replica += 1
        if (
            sum(f.height for f in pending) >= batch_rows
            or written + sum(f.height for f in pending) >= rows
        ):
            batch = pl.concat(pending).to_arrow().cast(schema)
            write_deltalake(path, batch, mode="append", partition_by=["event_date"])
            written += batch.num_rows
            pending = []
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--lake", type=Path, default=None, help="reuse or create this lake")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lake")
    parser.add_argument(
        "--dedup",
        default="near",
        choices=["none", "exact", "near"],
        help="replicas repeat the template's texts, so dedup leaves few examples; `none` "
        "times the example-building path at full volume",
    )
    parser.add_argument(
        "--selection", default="label_model", choices=["label_model", "explicit_praise"]
    )
    args = parser.parse_args()
    root = args.lake or Path(tempfile.mkdtemp(prefix="curation-bench-"))
    try:
        table_path = ENRICHED_INTERACTIONS.path(str(root))
        if not DeltaTable.is_deltatable(table_path):
            started = time.perf_counter()
            count = build_lake(root, args.rows, args.batch_rows)
            print(f"built lake: {count:,} rows in {time.perf_counter() - started:.1f} s ({root})")
        print(f"load average before the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        table = DeltaTable(table_path)
        started = time.perf_counter()
        floor_rows = read_columns(table, table.schema().to_arrow().names).height
        floor = time.perf_counter() - started
        print(
            f"floor (read every column, same reader): {floor:.2f} s, "
            f"{floor_rows / floor:,.0f} rows/s"
        )

        marks: list[tuple[str, float]] = []
        started = time.perf_counter()
        result = curate_sft(
            str(root),
            CurationOptions(dedup=args.dedup, selection=args.selection),
            output_dir=root.parent / f"{root.name}-sft",
            progress=lambda stage: marks.append((stage, time.perf_counter())),
            overwrite=True,  # a reused --lake gets a fresh dataset each run
        )
        total = time.perf_counter() - started
        marks.append(("end", time.perf_counter()))
        stages = ", ".join(
            f"{name} {end - begin:.2f} s" for (name, begin), (_, end) in itertools.pairwise(marks)
        )
        rows_read = result.manifest["source"]["rows_read"]
        examples = sum(result.manifest["datasets"]["sft"]["rows"].values())
        print(f"stages ({', '.join(STAGES)}): {stages}")
        print(
            f"curate sft: {rows_read:,} rows -> {examples:,} examples in {total:.2f} s = "
            f"{rows_read / total:,.0f} rows/s"
        )
    finally:
        if args.lake is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(root.parent / f"{root.name}-sft", ignore_errors=True)


if __name__ == "__main__":
    main()
