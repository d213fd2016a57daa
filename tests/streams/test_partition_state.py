"""Checkpoint and restore of per-partition engines over a plain dict standing in for the
changelog-backed table (the real table is exercised by tests/e2e/test_e2e_restart.py)."""

from __future__ import annotations

import asyncio
import threading
import time

from event_factories import make_event

from rules import RuleSet
from rules.language.model import parse_rule
from streams.state import BUCKETS, PartitionEngines, checkpoint_on_stop
from streams.steps import InFlight

T0 = 1772414100000
RULE = """
id: many-reads
title: many reads
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
aggregate: {distinct: attrs.citizen}
condition: {gte: 5}
"""


def engines(table: dict) -> PartitionEngines:
    ruleset = RuleSet([parse_rule(RULE, "r.yaml")])
    return PartitionEngines(
        ruleset, table, lateness_ms=0, checkpoint_every=3, checkpoint_interval_s=60
    )


def reads(n: int, start: int = 0):
    return [
        make_event(ts_ms=T0 + i * 1000, type="data.access", account=f"stf-{i % 2}", citizen=f"c{i}")
        for i in range(start, start + n)
    ]


def test_restored_engine_continues_where_the_checkpoint_left_off():
    table: dict = {}
    first = engines(table)
    st = first.get(0)
    for offset, ev in enumerate(reads(6)):
        st.engine.process(ev)
        st.offsets["events.service"] = offset
        st.pending.append(offset)
    acked = first.checkpoint(st, now=0.0)
    assert acked == list(range(6)) and st.pending == []
    assert 0 < len([k for k in table if "|b" in k]) <= BUCKETS

    again = engines(table).get(0)  # a new worker after a crash
    assert again.offsets == {"events.service": 5}
    assert engines(table).already_applied(again, "events.service", 5)
    assert not engines(table).already_applied(again, "events.service", 6)
    continued = [w for ev in reads(6, start=6) for w in again.engine.process(ev)]
    straight = engines({}).get(0).engine
    expected = [w for ev in reads(12) for w in straight.process(ev)]
    assert [w.id for w in continued] == [w.id for w in expected] and continued


def test_checkpoint_is_due_by_count_or_time():
    pe = engines({})
    st = pe.get(1)
    assert not pe.due(st, now=st.last_checkpoint + 1)  # nothing pending
    st.pending = [1, 2]
    assert not pe.due(st, now=st.last_checkpoint + 1)
    assert pe.due(st, now=st.last_checkpoint + 61)
    st.pending = [1, 2, 3]
    assert pe.due(st, now=st.last_checkpoint)


def test_partitions_do_not_share_state():
    table: dict = {}
    pe = engines(table)
    a = pe.get(0)
    for ev in reads(4):
        a.engine.process(ev)
    pe.checkpoint(a, now=0.0)
    assert engines(table).get(1).engine.key_count() == 0
    assert engines(table).get(0).engine.key_count() == 2


def test_swap_keeps_state_of_unchanged_rules_and_drops_changed_ones():
    table: dict = {}
    pe = engines(table)
    st = pe.get(0)
    for ev in reads(8):  # 4 distinct citizens per account: one short of firing
        st.engine.process(ev)
    same = RuleSet([parse_rule(RULE.replace("title: many reads", "title: reworded"), "r.yaml")])
    pe.swap(same)
    fired = [w for ev in reads(2, start=8) for w in st.engine.process(ev)]
    assert {w.key for w in fired} == {"stf-0", "stf-1"}, "wording change must keep the window"

    stricter = RuleSet([parse_rule(RULE.replace("gte: 5", "gte: 3"), "r.yaml")])
    pe.swap(stricter)
    assert st.engine.key_count() == 0, "a logic change starts with fresh state"


# --- seeding a fresh deployment --------------------------------------------------------

NEW_DATASET = """
id: new-dataset
title: reads a dataset it never read before
type: new_value
match: {type: data.access}
group_by: [attrs.account]
fields: [attrs.dataset]
lookback: 30d
"""
OVERDUE = """
id: overdue
title: not decided in time
type: absence
group_by: [attrs.app]
anchor: {type: app.accepted}
fulfilled_by: {type: app.decided}
deadline: {after: 2d}
"""
DAY = 86_400_000


def seeded(table: dict, rule: str, seed) -> PartitionEngines:
    return PartitionEngines(
        RuleSet([parse_rule(rule, "r.yaml")]),
        table,
        lateness_ms=0,
        checkpoint_every=1,
        checkpoint_interval_s=60,
        seed=seed,
    )


def dataset_reads(day: int, pairs, region: str = "330106"):
    return [
        make_event(
            ts_ms=T0 + day * DAY + i * 1000,
            type="data.access",
            region=region,
            account=a,
            dataset=d,
        )
        for i, (a, d) in enumerate(pairs)
    ]


def seed_file(tmp_path, events, partitions: int = 1):
    from replay.seed import SeedFile

    path = tmp_path / "seed.jsonl"
    path.write_bytes(b"\n".join(ev.to_json() for ev in events) + b"\n")
    return SeedFile(path, partitions)


def two_keys_on_two_partitions(partitions: int = 4) -> tuple[str, str]:
    from rules.engine.keyspace import KeyPlan

    apps = [f"A-{n}" for n in range(1, 30)]
    first = apps[0]
    other = next(
        a for a in apps if KeyPlan.partition(a, partitions) != KeyPlan.partition(first, partitions)
    )
    return first, other


def test_a_fresh_partition_learns_from_the_seed_and_does_not_flood(tmp_path):
    known = [("stf-1", "tax"), ("stf-2", "household"), ("stf-3", "tax")]
    live = dataset_reads(7, [*known, ("stf-1", "medical")])
    p = 0  # one partition holds every key
    unseeded = seeded({}, NEW_DATASET, None).get(p)
    assert len([w for ev in live for w in unseeded.engine.process(ev)]) == 4

    st = seeded({}, NEW_DATASET, seed_file(tmp_path, dataset_reads(0, known))).get(p)
    fired = [w for ev in live for w in st.engine.process(ev)]
    assert [(w.key, w.details["new"]) for w in fired] == [("stf-1", "medical")]


def test_a_partition_is_seeded_only_with_the_keys_it_owns(tmp_path):
    """An application accepted in each of two districts, never decided, whose ids hash to two
    partitions: each partition's shard holds only its own application's obligation, so each
    overdue warning fires once, from the partition that will also see its decision."""
    from rules.engine.keyspace import KeyPlan

    apps = two_keys_on_two_partitions()
    anchors = [
        make_event(ts_ms=T0 + i, type="app.accepted", region=f"33010{i}", app=app)
        for i, app in enumerate(apps)
    ]
    seed = seed_file(tmp_path, anchors, partitions=4)
    pe = seeded({}, OVERDUE, seed)
    fired = []
    for app in apps:
        st = pe.get(KeyPlan.partition(app, 4))
        assert st.engine.key_count() == 1
        fired += [(st.partition, w.key) for w in st.engine.advance_to(T0 + 3 * DAY)]
    assert sorted(fired) == sorted((KeyPlan.partition(a, 4), a) for a in apps)


def test_a_partition_restored_from_a_checkpoint_is_not_seeded_again(tmp_path):
    """Seeded with three reads of five, one live read, a checkpoint, a crash: after the
    restore the fifth read fires, not the first one (a second seeding would count the seed
    twice and fire at once)."""
    rule = RULE.replace("aggregate: {distinct: attrs.citizen}\n", "")
    past = [
        make_event(ts_ms=T0 + i * 1000, type="data.access", account="stf-0", citizen=f"c{i}")
        for i in range(5)
    ]
    path_seed = seed_file(tmp_path, past[:3], partitions=1)
    calls: list[int] = []

    def seed(partition: int, plan):
        calls.append(partition)
        return path_seed(partition, plan)

    table: dict = {}
    first = seeded(table, rule, seed)
    st = first.get(0)
    assert st.engine.process(past[3]) == []
    st.pending.append(0)
    first.checkpoint(st, now=0.0)

    again = seeded(table, rule, seed).get(0)  # a new worker after a crash
    assert calls == [0]
    assert [w.value for w in again.engine.process(past[4])] == [5.0]


def test_adding_resolve_to_a_rule_starts_its_state_fresh_on_reload():
    """``resolve`` changes when keys are evaluated again, so a reload that adds it does not
    carry windows built without it; rewording the resolving rule afterwards does."""
    pe = engines({})
    st = pe.get(0)
    for ev in reads(8):
        st.engine.process(ev)
    resolving = RULE + "resolve: {on: cleared}\n"
    pe.swap(RuleSet([parse_rule(resolving, "r.yaml")]))
    assert st.engine.key_count() == 0
    for ev in reads(8, start=8):
        st.engine.process(ev)
    reworded = resolving.replace("title: many reads", "title: reworded")
    pe.swap(RuleSet([parse_rule(reworded, "r.yaml")]))
    assert st.engine.key_count() == 2


# --- seeding off the event loop (what the worker calls) ---------------------------------


def slow_seed(events, started: threading.Event | None = None, release=None):
    """A seed that reads like a big file: it waits a little before each event."""

    def seed(partition: int, plan):
        for ev in events:
            if started is not None:
                started.set()
            if release is not None:
                release.wait(5)
            else:
                time.sleep(0.02)
            for ks, _key in plan.route(ev):
                yield ks.name, ev

    return seed


def test_the_worker_seeds_in_a_thread_while_the_event_loop_keeps_running(tmp_path):
    known = [("stf-1", "tax"), ("stf-2", "household"), ("stf-3", "tax")] * 5
    pe = seeded({}, NEW_DATASET, slow_seed(dataset_reads(0, known)))
    ticks = []

    async def main():
        async def ticker():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        tick = asyncio.create_task(ticker())
        st = await pe.get_async(0)
        tick.cancel()
        return st

    st = asyncio.run(main())
    assert len(ticks) >= 10, "the loop ran while the seed (about 0.3 s) was learned"
    assert pe.parts[0] is st and st.engine.key_count() == 3
    live = dataset_reads(7, [("stf-1", "tax"), ("stf-1", "medical")])
    assert [w.details["new"] for ev in live for w in st.engine.process(ev)] == ["medical"]


def test_a_partition_revoked_while_seeding_is_dropped():
    started, release = threading.Event(), threading.Event()
    pe = seeded({}, NEW_DATASET, slow_seed(dataset_reads(0, [("stf-1", "tax")]), started, release))

    async def main():
        pending = asyncio.create_task(pe.get_async(0))
        await asyncio.to_thread(started.wait, 5)
        pe.revoke({0})  # a rebalance took the partition away meanwhile
        release.set()
        return await pending

    assert asyncio.run(main()) is None
    assert 0 not in pe.parts


def test_a_rule_set_published_while_seeding_applies_before_the_first_event():
    started, release = threading.Event(), threading.Event()
    seed = slow_seed(dataset_reads(0, [("stf-1", "tax")]), started, release)
    pe = seeded({}, NEW_DATASET, seed)
    reworded = NEW_DATASET.replace("title: reads a dataset", "title: opens a dataset")
    extra = RULE.replace("id: many-reads", "id: added-meanwhile")
    newer = RuleSet([parse_rule(reworded, "r.yaml"), parse_rule(extra, "x.yaml")])

    async def main():
        pending = asyncio.create_task(pe.get_async(0))
        await asyncio.to_thread(started.wait, 5)
        pe.swap(newer)
        release.set()
        return await pending

    st = asyncio.run(main())
    assert [r.rule.id for r in st.engine.runners] == ["new-dataset", "added-meanwhile"]
    # the reworded rule kept what it learned from the seed: a known dataset stays quiet
    fired = st.engine.process(dataset_reads(7, [("stf-1", "tax")])[0])
    assert fired == []


def test_a_stop_checkpoints_every_partition_holding_applied_events():
    table: dict = {}
    pe = engines(table)
    for partition, n in ((0, 2), (1, 0), (2, 1)):
        st = pe.get(partition)
        for offset, ev in enumerate(reads(n)):
            st.engine.process(ev)
            st.offsets["events.service"] = offset
            st.pending.append((partition, offset))
    acked: list = []

    async def save(st, now):
        acked.extend(done := await pe.save(st, now))
        return len(done)

    saved = asyncio.run(checkpoint_on_stop(pe, InFlight(), 1.0, save))

    assert saved == (3, 2)
    assert sorted(acked) == [(0, 0), (0, 1), (2, 0)]
    assert engines(table).get(0).offsets == {"events.service": 1}  # what the next owner skips
    assert engines(table).get(2).offsets == {"events.service": 0}


def test_a_stop_saves_nothing_while_an_event_is_half_applied():
    """An engine changed by an event not yet recorded as pending: saving it would make the
    next owner apply that event a second time."""
    pe = engines({})
    st = pe.get(0)
    st.pending.append("applied")
    saves: list = []

    async def save(st, now):
        saves.append(st)
        return len(st.pending)

    async def stop_while_busy():
        steps = InFlight()
        with steps:
            return await checkpoint_on_stop(pe, steps, 0.05, save)

    async def stop_once_done():
        steps = InFlight()

        async def finish():
            with steps:
                await asyncio.sleep(0.05)

        task = asyncio.create_task(finish())
        await asyncio.sleep(0)  # the step has begun
        saved = await checkpoint_on_stop(pe, steps, 5.0, save)
        assert task.done()
        return saved

    assert asyncio.run(stop_while_busy()) is None and saves == []
    assert asyncio.run(stop_once_done()) == (1, 1) and saves == [st]


class Recording(dict):
    """A table that remembers the order of its writes (as the changelog keeps them)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    def __setitem__(self, key: str, value: str) -> None:
        self.writes.append((key, value))
        super().__setitem__(key, value)


def test_a_checkpoint_cut_short_by_a_crash_restores_the_previous_one_whole():
    table = Recording()
    pe = engines(table)
    st = pe.get(0)
    events = reads(12)
    for offset, ev in enumerate(events[:6]):
        st.engine.process(ev)
        st.offsets["events.service"] = offset
    pe.checkpoint(st, now=0.0)
    committed = len(table.writes)
    for offset, ev in enumerate(events[6:], start=6):
        st.engine.process(ev)
        st.offsets["events.service"] = offset
    pe.checkpoint(st, now=1.0)
    second = table.writes[committed:]
    assert [k for k, _ in second][-1] == "0|commit" and len(second) >= 2

    straight = engines({}).get(0).engine
    for ev in events[:6]:
        straight.process(ev)
    expected = [w.id for ev in events[6:] for w in straight.process(ev)]
    assert expected  # the second half raises warnings: a double count would show
    for cut in range(1, len(second)):  # the worker dies after `cut` writes of the second one
        crashed = dict(table.writes[: committed + cut])
        again = engines(crashed).get(0)
        assert again.offsets == {"events.service": 5}
        replayed = [w.id for ev in events[6:] for w in again.engine.process(ev)]
        assert replayed == expected, f"cut after {cut} of {len(second)} writes"


def test_a_restored_partition_still_skips_an_event_it_applied_before_the_crash():
    """A producer's retry of an event already checkpointed arrives at a new offset, after a
    restart: the restored engine remembers the id and skips it; the state of a rule swap
    keeps it too."""
    table: dict = {}
    first = engines(table)
    st = first.get(0)
    events = reads(4)
    for ev in events:
        assert st.engine.admit(ev, T0).ok
        st.engine.process(ev)
    first.checkpoint(st, now=0.0)

    again = engines(table)
    restored = again.get(0).engine
    assert [restored.admit(ev, T0).kind for ev in events] == ["duplicate"] * 4
    assert restored.admit(reads(1, start=4)[0], T0).ok
    again.swap(RuleSet([parse_rule(RULE.replace("gte: 5", "gte: 6"), "r.yaml")]))
    assert again.get(0).engine.admit(events[0], T0).kind == "duplicate"
