"""Property test of the state machine on a real Redis (hypothesis stateful).

Random actions, with random (valid and invalid) arguments, by random callers of every role
and scope, interleaved with new warnings, lease expiry and deadline ticks, must never reach
an illegal state, never lose a clue, keep every index and counter consistent, and leave an
audit trail that replays to the clue's current state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aioredis
from clue_factories import EVIDENCE, T0, make_warning
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from clues import sla
from clues.access import Principal
from clues.model import (
    CLAIMED,
    HELD_STATUSES,
    READ_ACTIONS,
    STATUSES,
    TRANSITIONS,
    USER_ACTIONS,
    ClueError,
    check_transition,
    clue_id,
    may,
)
from clues.scripts import TRACKED
from clues.store import ClueStore
from envelope.events import ClueTransition, transition_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOUR = 3_600_000
MS = "market-supervision"
CALLERS = (
    Principal("alice", "inspector", (MS,), ("3301",)),
    Principal("bob", "inspector", (MS,), None),
    Principal("lena", "lead", (MS,), None),
    Principal("olga", "inspector", ("housing",), None),
    Principal("hank", "lead", ("housing",), None),
    Principal("sam", "supervisor"),
    Principal("root", "admin"),
)
FPS = ("fp-0", "fp-1", "fp-2")
ARGS: dict[str, list[dict[str, Any]]] = {
    "dispatch": [{}, {"department": "housing"}, {"department": MS}],
    "return": [{"reason_code": "wrong_region"}, {"reason_code": "bogus"}],
    "arbitrate": [{"department": MS}, {"department": "housing"}],
    "claim": [{}, {"lease_s": 600}],
    "release": [{}],
    "escalate": [{"case_ref": "C-1"}, {}],
    "suspend": [{"reason_code": "awaiting_test"}],
    "resume": [{}],
    "request_extension": [{"days": 3, "reason": "lab"}, {"days": 40, "reason": "x"}],
    "decide_extension": [{"decision": "approve"}, {"decision": "reject"}],
    "dispose": [
        {"code": "rectified", "evidence_refs": EVIDENCE},
        {"code": "rectified"},
        {"code": "false_positive", "sub_reason": "data_quality"},
        {"code": "duplicate"},
    ],
    "submit": [{}],
    "approve": [{}],
    "reject": [{"reason": "redo"}],
    "dismiss": [{"code": "duplicate"}, {"code": "false_positive"}],
    "merge": [{"into": clue_id(fp)} for fp in FPS],
    "comment": [{"text": "note"}],
    "label": [{"add": ["a"]}, {"remove": ["a"]}],
    "evidence": [{"evidence_refs": EVIDENCE}],
    "reveal": [{}],
}
REDIS_URL = ""


def _replay_legal(action: str, frm: str, to: str) -> bool:
    t = TRANSITIONS[action]
    if action == "open":
        return frm == "" and to == "new"
    if frm not in t.sources:
        return False
    return to == (t.target or frm) or (action == "return" and to == "arbitration")


class ClueMachine(RuleBasedStateMachine):
    """Three fingerprints' clues, worked by seven callers, against one Redis key prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.redis = aioredis.from_url(REDIS_URL, decode_responses=True)
        self.prefix = f"hyp-{uuid.uuid4().hex[:10]}"
        self.store = ClueStore(self.redis, self.prefix)
        self.now = T0
        self.n_warnings = 0
        self.created: set[str] = set()
        for fp in FPS:
            self.ingest_one(fp)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def ingest_one(self, fp: str) -> None:
        self.n_warnings += 1
        w = make_warning(f"w{self.n_warnings}", fp, ts_ms=self.now)
        (result,) = self.run(self.store.upsert_warnings([w]))
        pointer = self.run(self.redis.hget(f"{self.prefix}:fp:{fp}", "clue_id"))
        if result == "new":
            self.created.add(pointer)

    def current(self, fp: str) -> str:
        return str(self.run(self.redis.hget(f"{self.prefix}:fp:{fp}", "clue_id")))

    @rule(fp=st.sampled_from(FPS), later=st.integers(0, 3 * HOUR))
    def warning_arrives(self, fp: str, later: int) -> None:
        self.now += later
        self.ingest_one(fp)

    @rule(days=st.integers(0, 20))
    def time_passes(self, days: int) -> None:
        self.now += days * 24 * HOUR + 1
        self.run(self.store.expire_leases(self.now))
        self.run(sla.tick(self.store, self.now))

    @rule(
        data=st.data(),
        fp=st.sampled_from(FPS),
        action=st.sampled_from(USER_ACTIONS),
        who=st.sampled_from(CALLERS),
        later=st.integers(0, HOUR),
    )
    def act(self, data: st.DataObject, fp: str, action: str, who: Principal, later: int) -> None:
        self.now += later
        cid = self.current(fp)
        args = data.draw(st.sampled_from(ARGS[action]))
        before = self.run(self.store.get(cid))
        try:
            after = self.run(self.store.transition(cid, action, who, self.now, args))
        except ClueError:
            now_clue = self.run(self.store.get(cid))
            trail = self.run(self.store.audit(cid))
            assert now_clue == before or trail[-1].action == "expire", (action, who)
            return
        status = before.status
        if status == CLAIMED and (before.lease_expires_ms or 0) <= self.now:
            status = "dispatched"  # the lease ran out first
        assert may(action, who.role) and who.covers(before.department, before.region)
        target = check_transition(action, status)
        assert after.status == target or (action, after.status) == ("return", "arbitration")

    @invariant()
    def every_clue_is_consistent(self) -> None:
        ids = set(self.run(self.redis.zrange(f"{self.prefix}:q:all", 0, -1)))
        assert ids == self.created, "a clue was lost or invented"
        actual: Counter[str] = Counter()
        for cid in ids:
            h = self.run(self.redis.hgetall(f"{self.prefix}:clue:{cid}"))
            status = h["status"]
            assert status in STATUSES
            actual[f"{status}|{h.get('colour', '')}"] += 1
            for s in STATUSES:
                member = self.run(self.redis.zscore(f"{self.prefix}:q:{s}", cid)) is not None
                assert member == (s == status), (cid, s, status)
            if status == CLAIMED:
                assert h.get("claimed_by") and h.get("lease_expires_ms")
            if status in HELD_STATUSES:
                assert h.get("claimed_by"), (cid, status)
            self.audit_replays(cid, h)
        backlog = self.run(self.redis.hgetall(f"{self.prefix}:stats:backlog"))
        assert {k: int(v) for k, v in backlog.items() if int(v)} == dict(actual)
        self.outbox_mirrors_audit(ids)

    def outbox_mirrors_audit(self, ids: set[str]) -> None:
        """Every step but a read was published, once, in order, as it was audited."""
        published: dict[str, list[ClueTransition]] = {cid: [] for cid in ids}
        for _, f in self.run(self.redis.xrange(f"{self.prefix}:outbox")):
            if f["kind"] == "transition":
                t = ClueTransition.from_json(f["value"])
                assert f["key"] == t.clue_id and t.id == transition_id(t.clue_id, t.version)
                published[t.clue_id].append(t)
        for cid in ids:
            steps = published[cid]
            audited = [e for e in self.run(self.store.audit(cid)) if e.action not in READ_ACTIONS]
            assert [(t.action, t.from_status, t.to_status, t.actor, t.version) for t in steps] == [
                (e.action, e.from_status, e.to_status, e.actor, e.version) for e in audited
            ], cid
            assert [(t.before, t.after) for t in steps] == [(e.before, e.after) for e in audited]
            versions = [t.version for t in steps]
            assert versions == sorted(set(versions)), (cid, versions)  # ids never repeat

    def audit_replays(self, cid: str, h: dict[str, str]) -> None:
        state: dict[str, str] = {}
        status = ""
        for e in self.run(self.store.audit(cid)):
            assert e.from_status == status, (cid, e.action, e.from_status, status)
            assert _replay_legal(e.action, e.from_status, e.to_status), e
            for k, v in (e.before or {}).items():
                assert state.get(k, "") == v, (cid, e.action, k)
            state.update(e.after or {})
            status = e.to_status
        assert status == h["status"]
        assert {k: state.get(k, "") for k in TRACKED} == {k: h.get(k, "") for k in TRACKED}
        steps = [e.version for e in self.run(self.store.audit(cid)) if e.action not in READ_ACTIONS]
        assert steps == list(range(1, int(h["version"]) + 1)), (cid, steps)  # every version

    def teardown(self) -> None:
        async def clean() -> None:
            keys = [k async for k in self.redis.scan_iter(match=f"{self.prefix}:*", count=1000)]
            for i in range(0, len(keys), 500):
                await self.redis.unlink(*keys[i : i + 500])
            await self.redis.aclose()

        self.run(clean())
        self.loop.close()


def test_random_work_never_breaks_the_clue_queue(redis_url: str) -> None:
    global REDIS_URL
    REDIS_URL = redis_url
    run_state_machine_as_test(
        ClueMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
