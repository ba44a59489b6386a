"""The demo's live view: narrow terminals get fewer columns (never cut text), pipes get lines."""

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from dashboard.state import DashboardState
from feedbackctl.demo.live_view import PipelineProgress, progress_line, render
from tests.unit.dashboard.records import metric_record

PROGRESS = PipelineProgress("draining", 12.0, 5_100, 4_000, 7, 0, "http://127.0.0.1:8050/")


def _snapshot() -> dict:
    state = DashboardState()
    for version in ("1.4.0", "1.5.0-rc.2"):
        state.add_metric(metric_record(0, "support-bot", version, interactions=12_345))
    state.add_metric(metric_record(0, "code-helper", "3.2.0", interactions=7))
    return state.snapshot("all")


def _drawn(width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(render(_snapshot(), PROGRESS, width))
    return out.getvalue()


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("┃", "│"))]


def test_a_wide_terminal_shows_every_column() -> None:
    header = _table_lines(_drawn(200))[0]
    for column in ("turns", "completed", "thumbs up", "p95 latency", "corrections", "rating"):
        assert column in header


@given(st.integers(min_value=40, max_value=160))
def test_narrower_terminals_drop_columns_and_cut_no_cell(width: int) -> None:
    text = _drawn(width)
    assert "…" not in text
    lines = _table_lines(text)
    assert all(len(line) <= width for line in lines)
    header = lines[0]
    for kept in ("agent", "version", "turns"):
        assert kept in header
    for value in ("support-bot", "1.5.0-rc.2", "12,345", "code-helper"):
        assert value in text


def test_80_columns_keep_the_headline_numbers() -> None:
    header = _table_lines(_drawn(80))[0]
    assert "completed" in header
    assert "corrections" not in header  # dropped, not cut


def test_a_progress_line_for_pipes_and_files() -> None:
    line = progress_line(_snapshot(), PROGRESS)
    assert "\n" not in line
    assert "enriched out 4,000" in line
    assert "processor lag 7" in line
    assert "support-bot/1.4.0=12,345" in line
