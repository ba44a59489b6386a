"""Session closing, abandonment on the watermark, revisions, late and duplicate handling."""

import dataclasses
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processors.partition import Outputs, PartitionConfig, PartitionProcessor
from stream_processors.sessions import abandoned_signal_id
from tests.unit.stream_processors.conftest import T0, EventFactory

CONFIG = PartitionConfig(
    abandon_after_ms=60_000,
    grace_ms=600_000,
    lateness_ms=0,
    idle_timeout_ms=1_000,  # the tests set the watermark themselves (`Driver.until`)
    window_ms=60_000,
    sample_size=64,
)


class Driver:
    """Feeds a processor and moves its watermark to chosen event times."""

    def __init__(self, config: PartitionConfig = CONFIG) -> None:
        self.processor = PartitionProcessor(0, config, now=0)
        self.now = 0.0
        self.offset = 0
        self.outputs = Outputs()

    def ingest(self, *entries: dict[str, Any]) -> None:
        for entry in entries:
            self.offset += 1
            self.processor.ingest(entry["kind"], self.offset, entry, self.now)

    def until(self, at_s: float) -> Outputs:
        """Advance (all sources idle) until everything at or before T0 + at_s is applied: the
        watermark just after it (events at the watermark itself may still come)."""
        self.now += 1
        mark = self.processor.watermark
        self._move(max(T0 + int(at_s * 1000) + 1, mark.value or 0))
        mark._last_tick = self.now  # idle advance adds nothing: the watermark is the target
        out = self.processor.advance(self.now)
        self.outputs.extend(out)
        return out

    def restart(self) -> None:
        """Persist what changed, as the runtime's checkpoint does, and load a new processor
        from it (a worker restarted, or the partition moved to another)."""
        store = _PersistedState()
        store.write(self.processor.dirty_state())
        self.processor = store.restore(self.now)

    def wait_for_late_sessions(self) -> None:
        """Let the wall clock and the watermark move on as far as the late sessions' clocks run
        behind (twice the idle timeout plus the lateness, plus any lull of the watermark in which
        their events arrived: `PartitionProcessor._arrived_late`): sessions that received an
        event the watermark had passed apply what they hold; `until` moves the watermark no
        further back."""
        config = self.processor.config
        behind_ms = 2 * config.idle_timeout_ms + config.lateness_ms
        value = self.processor.watermark.value or 0
        for session in self.processor.sessions.values():
            latest = session.latest_event_time()
            if session.behind is not None and latest is not None:
                behind_ms = max(behind_ms, latest + 1 + session.behind - value)
        self.now += behind_ms
        self._move(value + behind_ms)

    def _move(self, value: int) -> None:
        """Set the watermark as its own advance would (`PartitionWatermark._move`: when it
        moved counts for `projected`)."""
        self.processor.watermark._move(value, self.now)


def test_terminal_signal_closes_with_its_outcome(events: EventFactory) -> None:
    drive = Driver()
    turn0, turn1 = events.interaction(0, 0), events.interaction(10, 1)
    drive.ingest(turn0, turn1, events.signal(15, "task_completed"))
    out = drive.until(16)
    assert [r["event_id"] for r in out.enriched] == [
        turn0["record"]["event_id"],
        turn1["record"]["event_id"],
    ]
    assert {r["session_outcome"] for r in out.enriched} == {"completed"}
    assert {r["session_closed_at"] for r in out.enriched} == {T0 + 15_000}
    assert all(r["revision"] == 0 and r["session_turns"] == 2 for r in out.enriched)
    assert out.inferred_signals == []


def test_failed_and_escalated_outcomes(events: EventFactory) -> None:
    for kind, outcome in [("task_failed", "failed"), ("escalated_to_human", "escalated")]:
        drive = Driver()
        drive.ingest(events.interaction(0), events.signal(1, kind))
        assert drive.until(2).enriched[0]["session_outcome"] == outcome


def test_nothing_closes_before_the_watermark_passes(events: EventFactory) -> None:
    drive = Driver()
    drive.ingest(events.interaction(0), events.signal(30, "task_completed"))
    assert drive.until(29).enriched == []
    assert len(drive.until(30).enriched) == 1


def test_abandonment_is_inferred_on_the_watermark(events: EventFactory) -> None:
    drive = Driver()
    drive.ingest(events.interaction(0), events.interaction(50, 1))
    assert drive.until(109).enriched == []  # 59 s after the last turn
    out = drive.until(110)
    assert [r["session_outcome"] for r in out.enriched] == ["abandoned", "abandoned"]
    assert out.enriched[0]["session_closed_at"] == T0 + 110_000
    [signal] = out.inferred_signals
    assert signal["event_id"] == abandoned_signal_id("s-1", T0 + 110_000)
    assert (signal["kind"], signal["source"], signal["event_time"]) == (
        "abandoned",
        "inferred",
        T0 + 110_000,
    )
    assert signal["event_id"] in {s["event_id"] for s in out.enriched[0]["signals"]}


def test_feedback_is_not_activity(events: EventFactory) -> None:
    drive = Driver()
    turn = events.interaction(0)
    drive.ingest(
        turn, events.feedback(50, thumbs_up=True, interaction_id=turn["record"]["event_id"])
    )
    out = drive.until(60)
    assert [r["session_outcome"] for r in out.enriched] == ["abandoned"]
    assert len(out.enriched[0]["feedback"]) == 1


def test_late_feedback_within_grace_revises_only_its_turn(events: EventFactory) -> None:
    drive = Driver()
    turn0, turn1 = events.interaction(0, 0), events.interaction(5, 1)
    drive.ingest(turn0, turn1, events.signal(6, "task_completed"))
    drive.until(10)
    first = turn1["record"]["event_id"]
    drive.ingest(events.feedback(300, "correction", first, correction="better answer"))
    out = drive.until(300)
    [revised] = out.enriched
    assert (revised["event_id"], revised["revision"]) == (first, 1)
    assert revised["corrected_response"] == "better answer"
    assert revised["reward_source"] == "explicit"
    drive.ingest(events.feedback(400, "thumbs", None, thumbs_up=True))  # session-level
    out = drive.until(400)
    assert sorted((r["turn_index"], r["revision"]) for r in out.enriched) == [(0, 1), (1, 2)]
    assert all(f["session_level"] for f in out.enriched[0]["feedback"])


def test_feedback_after_the_grace_and_a_second_close_are_too_late(events: EventFactory) -> None:
    drive = Driver()
    drive.ingest(events.interaction(0), events.signal(1, "task_completed"))
    drive.until(2)
    late_feedback = events.feedback(1 + 600 + 1, thumbs_up=True)
    second_close = events.signal(30, "task_failed")
    drive.ingest(second_close, late_feedback)
    out = drive.until(700)
    assert out.enriched == []
    reasons = {entry["record"]["event_id"] for entry, _ in out.too_late}
    assert reasons == {late_feedback["record"]["event_id"], second_close["record"]["event_id"]}


def test_a_session_id_used_again_keeps_its_first_turn_when_read_in_one_step(
    events: EventFactory,
) -> None:
    """A backlog (a replay, a backfill) read at once: the first use is abandoned at 60 s and
    the id used again at 900 s, past the grace period (600 s), in the same step. The abandonment
    used to be decided after the turn at 900 s was taken for the old use, which refused it."""
    drive = Driver()
    first, again, after = events.interaction(0), events.interaction(900), events.interaction(930, 1)
    drive.ingest(first, again, after)
    drive.until(5_000)
    uses = {(r["event_id"], r["session_closed_at"] - T0) for r in drive.outputs.enriched}
    assert uses == {
        (first["record"]["event_id"], 60_000),
        (again["record"]["event_id"], 990_000),
        (after["record"]["event_id"], 990_000),
    }
    assert drive.outputs.too_late == []


def test_feedback_past_the_grace_of_a_closed_use_joins_the_next_use(events: EventFactory) -> None:
    """Feedback staged for after a closed session's grace period is decided when the watermark
    passes it, not when the grace ends: the id may be used again in between (its turn read
    later than the feedback, here)."""
    drive = Driver()
    drive.ingest(events.interaction(0), events.signal(1, "task_completed"))
    drive.until(2)
    rating = events.feedback(700, "rating", rating=2)
    drive.ingest(rating)
    drive.until(650)  # past the grace period (601 s): the rating is still ahead
    again = events.interaction(660)
    drive.ingest(again, events.signal(710, "task_completed"))
    drive.until(720)
    [record] = [r for r in drive.outputs.enriched if r["event_id"] == again["record"]["event_id"]]
    assert [f["event_id"] for f in record["feedback"]] == [rating["record"]["event_id"]]
    assert drive.outputs.too_late == []


def test_duplicates_change_nothing(events: EventFactory) -> None:
    drive = Driver()
    turn = events.interaction(0)
    thumbs = events.feedback(2, interaction_id=turn["record"]["event_id"], thumbs_up=True)
    drive.ingest(turn, turn, thumbs, thumbs, events.signal(3, "task_completed"))
    out = drive.until(10)
    assert len(out.enriched) == 1
    assert len(out.enriched[0]["feedback"]) == 1
    [window] = drive.processor.windows.values()
    assert window.counts["interactions"] == 1
    assert window.counts["thumbs_up"] == 1


def test_metrics_attribution(events: EventFactory) -> None:
    drive = Driver()
    turn = events.interaction(10)
    drive.ingest(
        turn,
        events.signal(50, "task_completed"),
        events.feedback(70, interaction_id=turn["record"]["event_id"], thumbs_up=False),
        events.feedback(75, "rating", None, rating=4),
    )
    drive.until(200)
    windows = {key[2] - T0: w.counts for key, w in drive.processor.windows.items()}
    assert windows[0]["interactions"] == 1
    assert windows[0]["sessions_completed"] == 1  # closed at 50 s
    assert windows[0]["interactions_with_feedback"] == 0  # feedback came after its window
    assert windows[60_000]["thumbs_down"] == 1
    assert windows[60_000]["ratings"] == 1 and windows[60_000]["rating_sum"] == 4


def test_late_contribution_goes_to_the_open_window(events: EventFactory) -> None:
    drive = Driver()
    drive.ingest(events.interaction(0), events.signal(1, "task_completed"))
    drive.until(200)
    other = EventFactory("s-2")
    drive.ingest(other.interaction(5))  # event time far behind the watermark
    drive.until(200.5)
    assert sorted(key[2] - T0 for key in drive.processor.windows) == [0]  # waits (late)
    drive.wait_for_late_sessions()  # nothing more of its session for the idle timeout
    drive.until(201)
    starts = sorted(key[2] - T0 for key, w in drive.processor.windows.items())
    assert starts == [0, 180_000]


def test_within_the_window_grace_a_late_contribution_counts_in_its_own_window(
    events: EventFactory,
) -> None:
    """A thumbs from a client whose clock runs 3 s behind reaches the worker after the
    watermark passed the end of its window: with a grace of 5 s the window is still open for
    the partition (and its bound holds the finals back), so it counts there; 7 s behind, past
    the grace, it goes to the next window, as before."""
    config = dataclasses.replace(CONFIG, window_grace_ms=5_000)
    drive = Driver(config)
    turn = events.interaction(50)
    drive.ingest(turn)
    drive.until(62)
    assert drive.processor.frozen_before == T0 + 57_000  # the watermark less the grace
    assert drive.processor.metrics_bound() == T0 + 57_000  # window [0, 60 s) not final yet
    on_time = events.feedback(59, interaction_id=turn["record"]["event_id"], thumbs_up=True)
    drive.ingest(on_time)
    drive.wait_for_late_sessions()
    drive.until(64)
    assert drive.processor.windows[("bot", "1.0", T0)].counts["thumbs_up"] == 1
    drive.until(66)  # window [0, 60 s) now closed for this partition
    too_late = events.feedback(59.5, interaction_id=turn["record"]["event_id"], thumbs_up=False)
    drive.ingest(too_late)
    drive.wait_for_late_sessions()
    drive.until(67)
    windows = drive.processor.windows
    assert windows[("bot", "1.0", T0)].counts["thumbs_down"] == 0
    assert windows[("bot", "1.0", T0 + 60_000)].counts["thumbs_down"] == 1


def test_a_restored_partition_counts_nothing_in_windows_already_published(
    events: EventFactory,
) -> None:
    """The finalizer passed this partition while it was idle in memory (on the same worker: no
    handshake) and published windows past its watermark; what a new owner counts for an old
    session must still go to the earliest window not published, or it is dropped with it."""
    drive = Driver()
    drive.ingest(events.interaction(0), events.signal(1, "task_completed"))
    drive.until(5)
    drive.processor.drop_windows_until(T0 + 180_000)
    drive.processor = _restored(drive.processor, drive.now)
    other = EventFactory("s-2")
    drive.ingest(other.interaction(10), other.signal(11, "task_completed"))
    drive.until(12)
    assert sorted(key[2] - T0 for key in drive.processor.windows) == [180_000]


def test_state_round_trip_continues_identically(events: EventFactory) -> None:
    entries = [
        events.interaction(0),
        events.interaction(20, 1),
        events.feedback(30, thumbs_up=True),
    ]
    straight = Driver()
    straight.ingest(*entries)
    straight.until(25)
    resumed = Driver()
    resumed.ingest(*entries)
    resumed.until(25)
    resumed.processor = _restored(resumed.processor, resumed.now)
    assert straight.until(100).enriched == resumed.until(100).enriched


def test_events_staged_after_a_checkpoint_are_restored_from_their_entries_alone(
    events: EventFactory,
) -> None:
    """Staging persists an event's entry, not its session's row: a restart finds the events
    staged since the row was written, and sessions that were only staged, by their entries."""
    other = EventFactory("s-2")
    first = [events.interaction(0), events.signal(1, "task_started")]
    later = [events.feedback(30, thumbs_up=False), events.interaction(25, 1), other.interaction(26)]
    straight = Driver()
    straight.ingest(*first)
    straight.until(5)
    straight.ingest(*later)
    resumed = Driver()
    store = _PersistedState()
    resumed.ingest(*first)
    resumed.until(5)
    store.write(resumed.processor.dirty_state())
    resumed.ingest(*later)
    changes = resumed.processor.dirty_state()
    assert set(changes.sessions) == set()  # staging alone rewrote no session row
    store.write(changes)
    resumed.processor = store.restore(resumed.now)
    assert straight.until(2_000).enriched == resumed.until(2_000).enriched
    assert len(resumed.outputs.enriched) == 3


class _PersistedState:
    """What the tables hold after the `dirty_state()` changes written so far."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.windows: dict[Any, dict[str, Any]] = {}
        self.progress: dict[str, Any] | None = None

    def write(self, changes: Any) -> None:
        self.sessions.update(changes.sessions)
        for session_id in changes.deleted_sessions:
            self.sessions.pop(session_id, None)
        self.entries.update(changes.entries)
        for key in changes.released_entries:
            self.entries.pop(key, None)
        self.windows.update(changes.windows)
        for key in changes.deleted_windows:
            self.windows.pop(key, None)
        self.progress = changes.progress or self.progress

    def restore(self, now: float, config: PartitionConfig = CONFIG) -> PartitionProcessor:
        entries: dict[str, dict[str, dict[str, Any]]] = {}
        for (session_id, event_id), entry in self.entries.items():
            entries.setdefault(session_id, {})[event_id] = entry
        return PartitionProcessor.from_state(
            0,
            config,
            now,
            self.progress,
            iter(self.sessions.values()),
            iter(self.windows.items()),
            entries,
        )


def _restored(processor: PartitionProcessor, now: float) -> PartitionProcessor:
    """A processor rebuilt from everything `dirty_state()` gave so far (one call)."""
    store = _PersistedState()
    store.write(processor.dirty_state())
    return store.restore(now)


def test_entries_are_persisted_once_and_released_when_no_longer_needed(
    events: EventFactory,
) -> None:
    drive = Driver()
    turn, feedback = events.interaction(0), events.feedback(5, thumbs_up=True)
    turn_id, feedback_id = turn["record"]["event_id"], feedback["record"]["event_id"]
    session_id = turn["record"]["session_id"]
    drive.ingest(turn, feedback)
    first = drive.processor.dirty_state()
    assert set(first.entries) == {(session_id, turn_id), (session_id, feedback_id)}
    assert first.sessions == {}  # staging writes entries only, not the session's row
    drive.until(10)  # both applied: the turn stays, the feedback is joined into the session
    second = drive.processor.dirty_state()
    assert "prompt" not in repr(second.sessions[session_id])  # payloads are not in the session
    assert second.entries == {}
    assert second.released_entries == {(session_id, feedback_id)}
    drive.until(10_000)  # closed (abandoned) and past its grace: the session goes
    third = drive.processor.dirty_state()
    assert third.deleted_sessions == {session_id}
    assert third.released_entries == {(session_id, turn_id)}


def test_an_entry_staged_and_released_in_one_step_is_never_written(events: EventFactory) -> None:
    drive = Driver()
    turn, done = events.interaction(0), events.signal(1, "task_completed")
    drive.ingest(turn, done)
    drive.until(2)  # the signal is applied (joined into the session) before anything persisted
    changes = drive.processor.dirty_state()
    assert set(changes.entries) == {(turn["record"]["session_id"], turn["record"]["event_id"])}
    assert changes.released_entries == set()


def _session_streams(seed: int) -> dict[str, list[dict[str, Any]]]:
    """One session's events per topic, each in event-time order (as Kafka keeps them)."""
    rng = random.Random(seed)
    make = EventFactory(f"s-{seed}")
    streams: dict[str, list[dict[str, Any]]] = {"interaction": [], "feedback": [], "signal": []}
    time_s = 0.0
    turns = []
    for index in range(rng.randint(1, 4)):
        time_s += rng.uniform(2, 40)
        turn = make.interaction(time_s, index)
        turns.append(turn["record"]["event_id"])
        streams["interaction"].append(turn)
    if rng.random() < 0.6:
        streams["signal"].append(make.signal(time_s + rng.uniform(1, 20), "task_completed"))
    for _ in range(rng.randint(0, 3)):
        target = rng.choice([*turns, None])
        streams["feedback"].append(
            make.feedback(time_s + rng.uniform(-5, 700), interaction_id=target, thumbs_up=True)
        )
    for stream in streams.values():
        stream.sort(key=lambda e: e["record"]["event_time"])
    return streams


def _run(streams: dict[str, list[dict[str, Any]]], order: list[str], dups: list[bool]) -> list:
    drive = Driver(
        PartitionConfig(
            60_000, 600_000, lateness_ms=0, idle_timeout_ms=10**9, window_ms=60_000, sample_size=64
        )
    )
    positions = dict.fromkeys(streams, 0)
    topics = set(streams)
    for step, topic in enumerate(order):
        stream = streams[topic]
        if positions[topic] >= len(stream):
            continue
        entry = stream[positions[topic]]
        positions[topic] += 1
        drive.ingest(entry)
        if dups[step % len(dups)]:
            drive.ingest(entry)
        caught_up = {t for t in topics if positions[t] >= len(streams[t])}
        drive.now += 1
        drive.outputs.extend(drive.processor.advance(drive.now, caught_up, topics))
    for topic, stream in streams.items():  # whatever the interleaving left over
        for entry in stream[positions[topic] :]:
            drive.ingest(entry)
    for _ in range(3):  # everything goes idle, then the watermark runs far ahead
        drive.now += 10**9
        drive.outputs.extend(drive.processor.advance(drive.now))
    return sorted(
        (r["event_id"], r["revision"], repr(sorted(r.items()))) for r in drive.outputs.enriched
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    order=st.lists(st.sampled_from(["interaction", "feedback", "signal"]), max_size=40),
    dups=st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_any_interleaving_and_duplicates_give_the_same_enriched_output(
    seed: int, order: list[str], dups: list[bool]
) -> None:
    streams = _session_streams(seed)
    reference = _run(streams, [], [False])
    assert _run(streams, order, dups) == reference
    assert reference  # a session always yields records


def test_enriched_records_come_with_their_interaction_message_also_after_a_restore(
    events: EventFactory,
) -> None:
    """The runtime copies the interaction's body from its message (schemas.extension): each
    enriched record, first or revised, must be paired with its own turn's message."""
    drive = Driver()
    turn0, turn1 = events.interaction(0, 0), events.interaction(10, 1)
    turn0["value"], turn1["value"] = b"message of turn 0", b"message of turn 1"
    drive.ingest(turn0, turn1, events.signal(12, "task_completed"))
    closed = drive.until(13)
    assert _with_messages(closed, "turn_index") == [
        (0, b"message of turn 0"),
        (1, b"message of turn 1"),
    ]
    drive.processor = _restored(drive.processor, drive.now)
    drive.ingest(events.feedback(20, interaction_id=turn1["record"]["event_id"], thumbs_up=False))
    revised = drive.until(21)
    assert _with_messages(revised, "revision") == [(1, b"message of turn 1")]


def _with_messages(outputs: Outputs, field: str) -> list[tuple[Any, bytes | None]]:
    pairs = zip(outputs.enriched, outputs.enriched_messages, strict=True)
    return [(record[field], message) for record, message in pairs]


def test_a_session_id_that_is_never_quiet_closes_at_the_turn_cap_and_keeps_its_state_bounded(
    events: EventFactory,
) -> None:
    """An agent that uses one session id for every conversation: a turn every 5 s, feedback on
    every fourth 12 s after it, never a pause of `abandon_after`. Each use closes as `unknown`
    at the turn after its tenth (`max_session_turns`), which begins the next; once a use's
    grace period has passed, its turns, its events' ids and its persisted entries go (without
    the cap the session never closed: no record, and its state held every event it ever had).
    Each closed use is a row of its own, written when it closes or feedback revises it; the
    session's row holds the open use; a worker restarted from the checkpoint twice carries on
    with the same results."""
    config = dataclasses.replace(CONFIG, grace_ms=30_000, max_session_turns=10)
    drive = Driver(config)
    store = _PersistedState()
    turns = []
    session_rows, use_rows = [], []
    for turn in range(200):
        entry = events.interaction(turn * 5, turn)
        turns.append(entry["record"])
        drive.ingest(entry)
        if turn % 4 == 0:
            drive.ingest(events.feedback(turn * 5 + 12, interaction_id=entry["record"]["event_id"]))
        drive.until(turn * 5 + 1)
        changes = drive.processor.dirty_state()
        store.write(changes)
        session_rows.append(len(repr(changes.sessions.get("s-1"))))
        use_rows.append([key for key in changes.sessions if key != "s-1"])
        if turn in (77, 151):
            drive.processor = store.restore(drive.now, config)
    drive.until(200 * 5 + 12)
    enriched = {r["event_id"]: r for r in drive.outputs.enriched}  # highest revisions
    # 20 uses; the last is open. Each closed one holds ten turns and closed at the next turn.
    assert sorted(enriched) == sorted(t["event_id"] for t in turns[:190])
    assert {r["session_outcome"] for r in enriched.values()} == {"unknown"}
    assert {r["session_turns"] for r in enriched.values()} == {10}
    for use in range(19):
        closes = {
            enriched[t["event_id"]]["session_closed_at"] for t in turns[use * 10 : use * 10 + 10]
        }
        assert closes == {turns[use * 10 + 10]["event_time"]}
    # Feedback on turns 0, 4, ..., 188: those on a use's last turns revise it after its close.
    assert sum(len(r["feedback"]) for r in enriched.values()) == 48
    assert sum(r["revision"] for r in enriched.values()) > 0
    session = drive.processor.sessions["s-1"]
    # A use's grace period is 30 s, six turns: at most two earlier uses are kept.
    assert len(session.earlier) <= 2 and len(session.turns) == 10
    assert len(session.seen) <= 10 + 3 + 3
    # The session's row does not grow from the third use to the last; a checkpoint writes at
    # most the rows of two closed uses (the one just closed, one revised), and deletes those
    # past their grace period.
    assert max(session_rows[-50:]) < 1.2 * max(session_rows[50:100])
    assert max(len(keys) for keys in use_rows) <= 2
    assert 19 <= len({key for keys in use_rows for key in keys}) <= 21
    assert len(store.sessions) <= 3
    # The metrics count every use as a session with no outcome, every turn once.
    windows = drive.processor.windows
    assert sum(w.counts["sessions"] for w in windows.values()) == 19
    assert sum(w.counts["interactions"] for w in windows.values()) == 200
    assert not any(w.counts["sessions_abandoned"] for w in windows.values())


def test_a_session_row_written_with_its_earlier_uses_inside_is_loaded_and_split(
    events: EventFactory,
) -> None:
    """Until 7 Dec a session's earlier uses were inside its row. A worker upgraded while such a
    use is in its grace period loads it, late feedback still revises it, and the next
    checkpoint writes it as a row of its own and the session's row without it."""
    first = events.interaction(0)
    resumed = events.interaction(100, 1)  # after `abandon_after` (60 s): a new use of the id
    thumbs = events.feedback(120, interaction_id=first["record"]["event_id"], thumbs_up=False)
    straight = Driver()
    straight.ingest(first)
    straight.until(90)
    straight.ingest(resumed)
    straight.until(110)
    straight.ingest(thumbs)
    straight.until(130)
    upgraded = Driver()
    store = _PersistedState()
    upgraded.ingest(first)
    upgraded.until(90)
    upgraded.ingest(resumed)
    upgraded.until(110)
    store.write(upgraded.processor.dirty_state())
    use_key = f"s-1\x1f{first['record']['event_id']}"
    # The row as it was written before: the use inside, its events' ids in the session's.
    old_use = store.sessions.pop(use_key)
    del old_use["use"]
    old_row = store.sessions["s-1"]
    del old_row["earlier_uses"]
    old_row["earlier"] = [old_use]
    old_row["seen"] = sorted({*old_row["seen"], *old_use["seen"]})
    old_use["seen"] = []
    upgraded.processor = store.restore(upgraded.now)
    upgraded.ingest(thumbs)
    assert upgraded.until(130).enriched == straight.outputs.enriched[-1:]
    assert upgraded.outputs.enriched[-1]["feedback"][0]["thumbs_up"] is False
    changes = upgraded.processor.dirty_state()
    assert changes.sessions[use_key]["use"] == first["record"]["event_id"]
    assert "earlier" not in changes.sessions["s-1"]
    assert changes.sessions["s-1"]["earlier_uses"] == [first["record"]["event_id"]]
    store.write(changes)
    assert store.restore(upgraded.now).sessions["s-1"].earlier[0].turns.keys() == {
        first["record"]["event_id"]
    }
