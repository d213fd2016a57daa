"""The whole loop on real parts: simulated events through Tansu into the Faust worker, clues
in Redis, an inspector's disposition over HTTP, fed back to the worker."""

from __future__ import annotations

import collections

import pytest
from e2e_support import BAD_REGION, http_json, metric_sum, read_topic, wait_for

from clues.model import clue_id
from envelope.events import RiskWarning
from envelope.topics import TOPIC_WARNINGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_clues_in_redis_are_exactly_the_backtests(stack, replayed, expected):
    by_fp = collections.defaultdict(set)
    for w in expected.warnings:
        if not w.details.get("shadow"):  # experimental rules run in shadow: never a clue
            by_fp[w.fingerprint].add(w.id)
    assert len(by_fp) >= 20, "the simulated week should raise a few dozen clues"
    r = stack.redis()
    in_redis = {
        c for c in r.zrange("rl:q:all", 0, -1) if r.hget(f"rl:clue:{c}", "region") != BAD_REGION
    }
    assert in_redis == {clue_id(fp) for fp in by_fp}, "a clue is missing or extra"
    for fp, ids in by_fp.items():
        clue = r.hgetall(f"rl:clue:{clue_id(fp)}")
        assert int(clue["warning_count"]) == len(ids), f"clue for {fp} counted twice or lost"


def test_warning_ids_through_kafka_equal_backtest(stack, replayed, expected):
    live = [RiskWarning.from_json(v) for _, v in read_topic(stack.broker.bootstrap, TOPIC_WARNINGS)]
    live_ids = {w.id for w in live if w.region != BAD_REGION}
    assert live_ids == {w.id for w in expected.warnings}


def test_inspector_disposition_is_fed_back(stack, replayed, expected):
    api = stack.api.url
    centre, inspector = stack.tokens["dispatcher"], stack.tokens["inspector-7"]
    page = http_json("GET", f"{api}/clues?status=new&limit=10", token=centre)
    first, second = page["items"][0], page["items"][1]
    before = http_json("GET", f"{stack.worker.url}/feedback/")  # other tests dispose clues too

    def count(stats: dict, rule: str, outcome: str) -> int:
        return int(stats.get(rule, {}).get(outcome, 0))

    want = collections.Counter({(first["rule_id"], "confirmed"): 1})
    want[(second["rule_id"], "dismissed")] += 1
    confirmed_before = metric_sum(
        stack.worker.url, "riskloop_dispositions_total", outcome="confirmed"
    )
    verdicts = (
        (
            first,
            {
                "code": "confirmed_violation",
                "evidence_refs": [{"uri": "https://files.example/site.pdf"}],
            },
        ),
        (second, {"code": "false_positive", "sub_reason": "data_quality"}),
    )
    for clue, verdict in verdicts:
        url = f"{api}/clues/{clue['id']}"
        assert http_json("POST", f"{url}/dispatch", {}, token=centre)["status"] == "dispatched"
        claimed = http_json("POST", f"{url}/claim", {}, token=inspector)
        assert claimed["status"] == "claimed"
        body = {**verdict, "note": "checked on site"}
        done = http_json("POST", f"{url}/dispose", body, token=inspector)
        assert done["status"] == "disposed"
    after = http_json("GET", f"{api}/clues?status=new&limit=500", token=centre)
    assert first["id"] not in {c["id"] for c in after["items"]}

    def fed_back():
        stats = http_json("GET", f"{stack.worker.url}/feedback/")
        grown = all(
            count(stats, rule, outcome) - count(before, rule, outcome) >= n
            for (rule, outcome), n in want.items()
        )
        return stats if grown else None

    wait_for(fed_back, 60, "the feedback agent to record both dispositions")
    confirmed = metric_sum(stack.worker.url, "riskloop_dispositions_total", outcome="confirmed")
    assert confirmed >= confirmed_before + 1


def test_consumer_lag_drains_when_the_stream_goes_quiet(stack, replayed):
    """The tail of a stream is checkpointed and committed without waiting for more events."""
    from e2e_support import metric_samples

    def lag() -> float | None:
        end = metric_samples(stack.worker.url, "riskloop_topic_partition_end_offset")
        done = metric_samples(stack.worker.url, "riskloop_topic_partition_offset_commited")
        keys = [k for k in end if k[0] in ("events.service", "events.regulatory")]
        if not keys or any(k not in done for k in keys):
            return None
        return sum(end[k] - done[k] for k in keys)

    wait_for(
        lambda: lag() == 0 or None, 60, "committed offsets to reach the end of the event topics"
    )
