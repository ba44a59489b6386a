"""A person's view: headless Chromium shows the numbers of the metrics topic, and they move.

`feedbackctl dashboard` runs as a separate process against the real broker; Debian's
chromium, driven by Selenium with Debian's matching chromedriver (nothing is downloaded),
reads the page. One test produces QualityMetric records itself; the other runs the real
pipeline (`feedbackctl generate` -> `feedbackctl process` -> topics -> dashboard). Both
compare the page with numbers computed here from the records read back from the topics.
Screenshots go to test-output/dashboard/ (git-ignored). Needs `scripts/install-browser.sh`;
skipped without the browser.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.topics import ALERTS, DEADLETTER, METRICS
from tests.unit.dashboard.kafka_io import (
    free_port,
    namespace_topics,
    produce,
    read_topic,
    two_hours_ago_ms,
)
from tests.unit.dashboard.records import (
    MINUTE_MS,
    START_MS,
    alert_record,
    dead_letter_record,
    metric_record,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
WAIT_S = 30
NO_VALUE = "\u2013"  # the en dash the page shows for a rate without a denominator


def _browser_missing() -> bool:
    return not (CHROMIUM.exists() and CHROMEDRIVER.exists())


@pytest.fixture()
def namespace(bootstrap_servers: str) -> Iterator[str]:
    with namespace_topics(bootstrap_servers) as ns:
        yield ns


@contextlib.contextmanager
def _background(arguments: list[str], log: Path, env: dict[str, str]) -> Iterator[Any]:
    """`feedbackctl ARGUMENTS` as a separate process, stopped (SIGTERM, then SIGKILL) at exit."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedbackctl.main", *arguments],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@contextlib.contextmanager
def _dashboard(
    bootstrap_servers: str, namespace: str, log: Path, lookback_s: float | None = None
) -> Iterator[str]:
    """`feedbackctl dashboard` on a free port, as a user starts it; yields its URL."""
    port = free_port()
    arguments = ["dashboard", "--port", str(port), "--bootstrap-servers", bootstrap_servers]
    env = {
        "FEEDBACK_DASHBOARD_PUSH_INTERVAL_S": "0.2",
        "FEEDBACK_DASHBOARD_GROUP_ID": f"dashboard-{namespace}",
    }
    if lookback_s is not None:
        env["FEEDBACK_DASHBOARD_LOOKBACK_S"] = str(lookback_s)
    with _background([*arguments, "--namespace", namespace, "--log-json"], log, env) as process:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, log)
        yield url


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dashboard exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"dashboard not healthy after {WAIT_S} s: {log.read_text()[-2000:]}")


@pytest.fixture()
def dashboard_url(bootstrap_servers: str, namespace: str, tmp_path: Path) -> Iterator[str]:
    with _dashboard(bootstrap_servers, namespace, tmp_path / "dashboard.log") as url:
        yield url


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    if _browser_missing():
        pytest.skip("Debian's chromium and chromedriver are needed: run scripts/install-browser.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1300",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def _js_fixed(value: float, digits: int) -> str:
    """JavaScript's `toFixed`: the exact binary value rounded half up (Python rounds half-even)."""
    exact = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{exact:,}" if digits == 0 else str(exact)


def _rate(numerator: int, denominator: int) -> str:
    return NO_VALUE if not denominator else _js_fixed(numerator / denominator * 100, 1) + "%"


def _expected_rows(
    records: list[dict[str, Any]], lookback_ms: int = 3_600_000
) -> dict[tuple[str, str], dict[str, str]]:
    """What the table must show, computed here from the topic's records (not by the dashboard).

    Per window the final record, else the highest update_seq; only windows that end within the
    look-back of the newest window end; rates from summed counts.
    """
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in records:
        key = (record["agent_id"], record["agent_version"], record["window_start"])
        rank = (record["is_final"], record["update_seq"])
        if key not in best or rank >= (best[key]["is_final"], best[key]["update_seq"]):
            best[key] = record
    if not best:
        return {}
    horizon_start = max(r["window_end"] for r in best.values()) - lookback_ms
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for agent in {(a, v) for a, v, _ in best}:
        windows = [
            r
            for (a, v, start), r in sorted(best.items())
            if (a, v) == agent and r["window_end"] > horizon_start
        ]
        if not windows:
            continue
        total = {f: sum(r[f] for r in windows) for f in windows[0] if type(windows[0][f]) is int}
        rated = [(r["mean_rating"], r["ratings"]) for r in windows if r["mean_rating"] is not None]
        rated = [(v, w) for v, w in rated if w > 0]
        timed = [(r["latency_p95_ms"], r["interactions"]) for r in windows]
        timed = [(v, w) for v, w in timed if v is not None and w > 0]
        rating_weight = sum(w for _, w in rated)
        latency_weight = sum(w for _, w in timed)
        thumbs = total["thumbs_up"] + total["thumbs_down"]
        rows[agent] = {
            "interactions": f"{total['interactions']:,}",
            "sessions": f"{total['sessions']:,}",
            "completion_rate": _rate(total["sessions_completed"], total["sessions"]),
            "abandonment_rate": _rate(total["sessions_abandoned"], total["sessions"]),
            "thumbs_up_rate": _rate(total["thumbs_up"], thumbs),
            "mean_rating": _js_fixed(sum(v * w for v, w in rated) / rating_weight, 2)
            if rating_weight
            else NO_VALUE,
            "correction_rate": _rate(total["corrections"], total["interactions"]),
            "latency_p95_ms": _js_fixed(sum(v * w for v, w in timed) / latency_weight, 0) + " ms"
            if latency_weight
            else NO_VALUE,
        }
    return rows


# Read in one script call: the page re-renders on every pushed snapshot, so element-by-element
# reads from Python could mix two renders (or hit replaced elements).
_READ_TABLE = """
const rows = {};
for (const row of document.querySelectorAll("#agents-body tr[data-agent]")) {
  const cells = {};
  for (const cell of row.querySelectorAll("td[data-field]")) {
    cells[cell.dataset.field] = cell.textContent;
  }
  rows[row.dataset.agent + "/" + row.dataset.version] = cells;
}
const dead = {};
for (const row of document.querySelectorAll("#dead-letters-body tr[data-reason]")) {
  dead[row.dataset.reason] = row.querySelector("td.num").textContent;
}
return [rows, dead];
"""


def _read_page(driver: Any) -> tuple[dict[tuple[str, str], dict[str, str]], dict[str, str]]:
    rows, dead = driver.execute_script(_READ_TABLE)
    return {tuple(key.rsplit("/", 1)): cells for key, cells in rows.items()}, dead


def _shown_rows(driver: Any) -> dict[tuple[str, str], dict[str, str]]:
    return _read_page(driver)[0]


def _wait_until_matches(driver: Any, expected: dict[tuple[str, str], dict[str, str]]) -> None:
    """Poll the page until every expected cell shows its value; fail with the difference."""
    shown: dict[tuple[str, str], dict[str, str]] = {}
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        shown = _shown_rows(driver)
        if set(shown) == set(expected) and all(
            shown[agent][field] == value
            for agent, fields in expected.items()
            for field, value in fields.items()
        ):
            return
        time.sleep(0.3)
    raise AssertionError(f"page shows {shown}\nexpected {expected}")


def _window(minute: int, agent: str, version: str, **counts: Any) -> dict[str, Any]:
    return metric_record(minute, agent, version, **counts)


def test_browser_shows_the_metrics_topic_live(
    browser: Any, dashboard_url: str, namespace: str, bootstrap_servers: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    metrics = METRICS.in_namespace(namespace)
    first = [
        _window(
            m,
            "support-bot",
            "1.4.0",
            interactions=12 + m,
            sessions=5,
            completed=4,
            abandoned=1,
            thumbs_up=3,
            thumbs_down=1,
            ratings=3,
            mean_rating=4.2,
            corrections=1,
            latency_p95_ms=900.0 + 10 * m,
        )
        for m in range(20)
    ] + [
        _window(
            m,
            "support-bot",
            "1.5.0",
            interactions=7,
            sessions=3,
            completed=1,
            abandoned=2,
            thumbs_up=1,
            thumbs_down=3,
            ratings=2,
            mean_rating=2.5,
            corrections=2,
            latency_p95_ms=1500.0,
        )
        for m in range(20)
    ]
    # The newest window of 1.5.0 is still open: a running update, then a newer one.
    first += [
        _window(20, "support-bot", "1.5.0", interactions=2, is_final=False, update_seq=0),
        _window(20, "support-bot", "1.5.0", interactions=4, is_final=False, update_seq=1),
    ]
    produce(bootstrap_servers, metrics, first, timestamp_ms=two_hours_ago_ms())
    produce(
        bootstrap_servers,
        DEADLETTER.in_namespace(namespace),
        [dead_letter_record("too_late", i) for i in range(3)] + [dead_letter_record("oversized")],
    )
    produce(bootstrap_servers, ALERTS.in_namespace(namespace), [alert_record(20)])

    browser.get(dashboard_url)
    _wait_until_matches(browser, _expected_rows(read_topic(bootstrap_servers, metrics)))
    assert _read_page(browser)[1] == {"too_late": "3", "oversized": "1"}
    alert = alert_record(20)
    selector = f'#alerts-body tr[data-alert-id="{alert["alert_id"]}"]'
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    cells = browser.execute_script(
        "return [...document.querySelector(arguments[0]).cells].map(c => c.textContent)", selector
    )
    assert cells[1:6] == [
        "critical",
        "regression",
        "support-bot 1.5.0",
        "thumbs_up_rate",
        "0.410",
    ]
    charts = browser.find_elements(By.CSS_SELECTOR, "#charts .chart")
    assert len(charts) == 7
    for chart in charts:  # one line per agent version in every chart
        assert len(chart.find_elements(By.CSS_SELECTOR, "polyline")) == 2
    assert browser.find_element(By.ID, "connection").text == "live"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(OUTPUT / "dashboard-initial.png"))
    horizon_before = browser.find_element(By.ID, "horizon").text

    # More traffic: 1.5.0's open window closes, 1.4.0 gets two more windows.
    produce(
        bootstrap_servers,
        metrics,
        [
            _window(
                20,
                "support-bot",
                "1.5.0",
                interactions=9,
                sessions=4,
                completed=3,
                abandoned=1,
                is_final=True,
                update_seq=2,
            ),
            _window(
                20,
                "support-bot",
                "1.4.0",
                interactions=40,
                sessions=10,
                completed=2,
                abandoned=6,
                thumbs_up=0,
                thumbs_down=4,
                latency_p95_ms=4000.0,
            ),
            _window(
                21,
                "support-bot",
                "1.4.0",
                interactions=35,
                sessions=8,
                completed=1,
                abandoned=5,
                thumbs_up=1,
                thumbs_down=5,
                latency_p95_ms=4200.0,
            ),
        ],
    )
    _wait_until_matches(browser, _expected_rows(read_topic(bootstrap_servers, metrics)))
    assert browser.find_element(By.ID, "horizon").text != horizon_before
    assert browser.find_element(By.ID, "horizon").text.endswith(
        time.strftime("%H:%M", time.gmtime((START_MS + 22 * MINUTE_MS) / 1000)) + " UTC"
    )
    browser.save_screenshot(str(OUTPUT / "dashboard-updated.png"))


@contextlib.contextmanager
def _pipeline_namespace(bootstrap_servers: str, redis_url: str) -> Iterator[str]:
    """A fresh namespace; afterwards its topics (Faust's changelogs too) and Redis keys go."""
    import redis
    from confluent_kafka.admin import AdminClient

    from stream_processors.settings import ProcessorSettings

    namespace = f"test-dash-e2e-{uuid.uuid4().hex[:8]}"
    try:
        yield namespace
    finally:
        admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        topics = [t for t in admin.list_topics(timeout=10).topics if namespace in t]
        if topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=30)
        client = redis.Redis.from_url(redis_url)
        prefix = ProcessorSettings(namespace=namespace).redis_prefix
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()


def _generate(bootstrap_servers: str, namespace: str, seed: int, sessions: int) -> None:
    """`feedbackctl generate`: agent traffic with 2% bad records into the namespace's inputs."""
    arguments = ["generate", "--sessions", str(sessions), "--seed", str(seed), "--bad-share"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "feedbackctl.main",
            *arguments,
            "0.02",
            "--namespace",
            namespace,
            "--bootstrap-servers",
            bootstrap_servers,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


_RATE_FIELDS = (
    "completion_rate",
    "abandonment_rate",
    "thumbs_up_rate",
    "mean_rating",
    "correction_rate",
    "latency_p95_ms",
)


def _wait_for_topics_on_page(
    driver: Any,
    bootstrap_servers: str,
    namespace: str,
    timeout_s: float,
    unlike: Any = None,
    lookback_ms: int = 3_600_000,
) -> tuple[Any, Any]:
    """Until the page shows what the metrics and dead-letter topics hold (and differs from
    `unlike`): the processor keeps publishing, so compare again until both sides agree."""
    metrics, dead = METRICS.in_namespace(namespace), DEADLETTER.in_namespace(namespace)
    shown: Any = None
    expected: Any = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reasons = Counter(r["reason"] for r in read_topic(bootstrap_servers, dead))
        expected = (
            _expected_rows(read_topic(bootstrap_servers, metrics), lookback_ms),
            {reason: f"{count:,}" for reason, count in reasons.items()},
        )
        rows, dead_letters = _read_page(driver)
        fields = ("interactions", "sessions", *_RATE_FIELDS)
        shown = ({a: {f: cells.get(f) for f in fields} for a, cells in rows.items()}, dead_letters)
        if expected[0] and shown == expected and shown != unlike:
            return shown
        time.sleep(1)
    raise AssertionError(f"page shows {shown}\nthe topics hold {expected}\nbefore: {unlike}")


# The generator's traffic spans hours of event time (feedback up to the 6 h grace after a
# session): this test compares every window kept (the range "all") with the topic.
LOOKBACK_ALL_S = 7 * 24 * 3600


def test_browser_follows_the_real_pipeline(
    browser: Any, bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    """Generator -> processor -> metrics topic -> dashboard -> browser, all real processes."""
    with _pipeline_namespace(bootstrap_servers, redis_url) as namespace:
        _generate(bootstrap_servers, namespace, seed=42, sessions=300)
        processor_env = {
            "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": bootstrap_servers,
            "FEEDBACK_PROCESSOR_REDIS_URL": redis_url,
        }
        processor_log = tmp_path / "processor.log"
        with (
            _background(["process", "--namespace", namespace], processor_log, processor_env),
            _dashboard(
                bootstrap_servers, namespace, tmp_path / "dashboard.log", LOOKBACK_ALL_S
            ) as url,
        ):
            browser.get(f"{url}/#range=all")  # every window kept, not the default last hour
            first = _wait_for_topics_on_page(
                browser, bootstrap_servers, namespace, 120, lookback_ms=LOOKBACK_ALL_S * 1000
            )
            assert len(first[0]) == 4, "the generator's four agent versions"
            assert first[1], "the generator's bad records are dead letters on the page"
            OUTPUT.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(OUTPUT / "pipeline-first.png"))

            _generate(bootstrap_servers, namespace, seed=43, sessions=150)
            _wait_for_topics_on_page(
                browser,
                bootstrap_servers,
                namespace,
                120,
                unlike=first,
                lookback_ms=LOOKBACK_ALL_S * 1000,
            )
            browser.save_screenshot(str(OUTPUT / "pipeline-after-more-traffic.png"))


# The page's default view during `feedbackctl demo`: late feedback (hours of event time after
# the turns) must not empty it. Headline cells that must show a number for every version.
_HEADLINE = ("interactions", "completion_rate", "latency_p95_ms")
DEMO_SCREENSHOT = OUTPUT / "demo-default-view.png"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _headline_numbers(shown: dict[tuple[str, str], dict[str, str]]) -> dict[str, list[str]]:
    """Per version, the headline cells that show no number (or zero)."""
    missing: dict[str, list[str]] = {}
    for (_agent, version), cells in shown.items():
        bad = [f for f in _HEADLINE if cells.get(f) in (None, "", NO_VALUE, "0", "0 ms", "0.0%")]
        if bad:
            missing[version] = bad
    return missing


def test_the_default_view_shows_every_version_during_a_demo(
    browser: Any, private_stack: Any, tmp_path: Path
) -> None:
    """`feedbackctl demo` as a user runs it (on the private stack); while it runs, the page's
    default view shows volume, completion and latency for each of the four agent versions."""
    from tests.e2e.newcomer_env import clone_folder, newcomer_environment

    port = free_port()
    folder = clone_folder(tmp_path)
    log = tmp_path / "demo.log"
    arguments = ["--duration", "40", "--rate", "300", "--dashboard-port", str(port)]
    with log.open("w") as output:
        demo = subprocess.Popen(
            [".venv/bin/feedbackctl", "demo", *arguments, "--no-keep-dashboard"],
            cwd=folder,
            env=newcomer_environment(private_stack),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while not _healthy(url):  # the demo starts the stack's topics first, then the page
            assert demo.poll() is None, f"the demo ended first: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no dashboard: {log.read_text()[-3000:]}"
            time.sleep(1)
        browser.get(url)
        shown: dict[tuple[str, str], dict[str, str]] = {}
        while time.monotonic() < deadline:
            assert demo.poll() is None, f"the demo ended first: {shown} {log.read_text()[-3000:]}"
            shown = _shown_rows(browser)
            if len(shown) == 4 and not _headline_numbers(shown):
                break
            time.sleep(1)
        assert len(shown) == 4, f"four agent versions expected, the page shows {shown}"
        assert not _headline_numbers(shown), shown
        assert demo.poll() is None, "shown while the demo runs"
        from selenium.webdriver.common.by import By

        assert browser.find_element(By.ID, "connection").text == "live"
        pressed = browser.find_elements(By.CSS_SELECTOR, '#ranges button[aria-pressed="true"]')
        assert [b.get_attribute("data-range") for b in pressed] == ["1h"]
        OUTPUT.mkdir(parents=True, exist_ok=True)
        time.sleep(2)  # the charts of the same snapshot are drawn
        browser.save_screenshot(str(DEMO_SCREENSHOT))

        # Another range: the page asks for it and the numbers stay.
        browser.find_element(By.CSS_SELECTOR, '#ranges button[data-range="all"]').click()
        until = time.monotonic() + WAIT_S
        while time.monotonic() < until:
            pressed = browser.find_elements(By.CSS_SELECTOR, '#ranges button[aria-pressed="true"]')
            if [b.get_attribute("data-range") for b in pressed] == ["all"]:
                break
            time.sleep(0.3)
        assert [b.get_attribute("data-range") for b in pressed] == ["all"]
        assert not _headline_numbers(_shown_rows(browser))
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=120)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(timeout=10)
