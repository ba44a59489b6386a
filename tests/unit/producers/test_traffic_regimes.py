"""Traffic regimes: each keeps its promise (feedback rate, noise, sarcasm, delays, base rate),
and `default` is the generator's traffic as it always was."""

from collections import Counter

import pytest

from producers.regimes import REGIMES, GeneratorSettings, regime_config
from producers.traffic import TrafficConfig, generate_traffic
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS

SESSIONS = 1500


def _run(name: str, seed: int = 3):
    traffic = generate_traffic(regime_config(name, sessions=SESSIONS, seed=seed))
    events = [e for e in traffic.events()]
    good = {t.event_id: t.good for s in traffic.truth.sessions.values() for t in s.turns}
    return traffic, events, good


def test_default_regime_is_the_historical_traffic():
    plain = [e.value() for e in generate_traffic(TrafficConfig(sessions=300, seed=5)).events()]
    regime = [
        e.value() for e in generate_traffic(regime_config("default", sessions=300, seed=5)).events()
    ]
    assert plain == regime


def test_at_least_four_regimes_that_differ():
    assert len(REGIMES) >= 5
    configs = {name: regime_config(name) for name in REGIMES}
    assert len({(c.feedback_share, c.max_turns, c.agents) for c in configs.values()}) == len(
        REGIMES
    )


@pytest.mark.parametrize("name", sorted(REGIMES))
def test_regime_statistics_within_the_documented_ranges(name):
    _, events, good = _run(name)
    feedback = [e.record for e in events if e.topic is FEEDBACK]
    on_turns = {f["interaction_id"] for f in feedback if f["interaction_id"]}
    base_rate = sum(good.values()) / len(good)
    assert 0.43 <= base_rate <= 0.92
    assert 0.025 <= len(on_turns) / len(good) <= 0.42
    thumbs = [f for f in feedback if f["kind"] == "thumbs" and f["interaction_id"]]
    wrong = sum(f["thumbs_up"] != good[f["interaction_id"]] for f in thumbs) / len(thumbs)
    assert wrong <= 0.25


def test_regimes_span_the_ranges():
    rates, flips = {}, {}
    for name in REGIMES:
        _, events, good = _run(name)
        feedback = [e.record for e in events if e.topic is FEEDBACK]
        rates[name] = len({f["interaction_id"] for f in feedback if f["interaction_id"]}) / len(
            good
        )
        flips[name] = sum(good.values()) / len(good)
    assert min(rates.values()) < 0.05 and max(rates.values()) > 0.3
    assert min(flips.values()) < 0.5 and max(flips.values()) > 0.85


def test_raters_differ_in_reliability():
    _, events, good = _run("crowd")
    per_rater: dict[str, list[bool]] = {}
    for event in events:
        f = event.record
        if event.topic is FEEDBACK and f["kind"] == "thumbs" and f["interaction_id"]:
            wrong = f["thumbs_up"] != good[f["interaction_id"]]
            per_rater.setdefault(f["rater_id"], []).append(wrong)
    raters = [flags for flags in per_rater.values() if len(flags) >= 5]
    overall = sum(map(sum, raters)) / sum(map(len, raters))
    # Homogeneous raters would spread like a binomial; a crowd of reliable and noisy raters
    # spreads more (chi-square of homogeneity, far above its degrees of freedom).
    chi2 = sum(
        (sum(flags) - len(flags) * overall) ** 2 / (len(flags) * overall * (1 - overall))
        for flags in raters
    )
    assert chi2 > 1.3 * (len(raters) - 1)


def test_sarcastic_users_praise_bad_answers():
    _, events, good = _run("sarcastic")
    ups_on_bad = Counter()
    for event in events:
        f = event.record
        if (
            event.topic is FEEDBACK
            and f["kind"] == "thumbs"
            and f["interaction_id"]
            and f["source"] == "end_user"
        ) and not good[f["interaction_id"]]:
            ups_on_bad[f["rater_id"]] += f["thumbs_up"]
    # A few users account for most of the praise of bad answers.
    counts = sorted(ups_on_bad.values(), reverse=True)
    assert sum(counts[: len(counts) // 5]) > 0.5 * sum(counts)


def test_corrections_arrive_later_in_late_regime():
    def median_delay(name):
        _, events, _ = _run(name)
        times = {e.record["event_id"]: e.event_time for e in events if e.topic is INTERACTIONS}
        delays = sorted(
            e.event_time - times[e.record["interaction_id"]]
            for e in events
            if e.topic is FEEDBACK and e.record["kind"] == "correction"
        )
        return delays[len(delays) // 2]

    assert median_delay("late") > 3600_000 > median_delay("crowd")


def test_retry_signals_without_the_turn_point_nowhere():
    traffic, events, _ = _run("sarcastic")
    retried = [e.record for e in events if e.topic is SIGNALS and e.record["kind"] == "retried"]
    anonymous = [s for s in retried if s["interaction_id"] is None]
    assert anonymous and len(anonymous) < len(retried)
    retried_turns = sum(t.retried for s in traffic.truth.sessions.values() for t in s.turns)
    assert retried_turns == len(retried)


def test_unknown_regime_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="sparse"):
        regime_config("nope")


def test_settings_field_names_the_regime(monkeypatch):
    monkeypatch.setenv("FEEDBACK_GENERATOR_REGIME", "late")
    assert GeneratorSettings().regime == "late"
