"""The loop's last step on the live worker: an inspector dismisses a detector's warning, the
verdict travels clue.dispositions -> feedback agent -> every partition of risk.verdicts, and
the engine holding that key teaches its detector the pattern is normal. Nothing else teaches
it: a verdict produced to an event topic (even with the header the worker once used to mark
verdicts there) is a bad event, dead-lettered; a malformed verdict is dead-lettered too."""

from __future__ import annotations

import base64

import orjson
import pytest
from e2e_support import PARTITIONS, http_json, metric_sum, read_topic, send_raw, wait_for

from envelope.events import Disposition, RiskWarning
from envelope.pseudonym import SEALED
from envelope.topics import (
    TOPIC_DEADLETTER,
    TOPIC_DISPOSITIONS,
    TOPIC_SERVICE,
    TOPIC_VERDICTS,
    TOPIC_WARNINGS,
)
from streams.verdicts import verdict_record

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RULE = "approver-anomaly"  # the library's detector rule (stable: its warnings open clues)


OLD_HEADER = [("riskloop-kind", b"verdict")]


def latest_flagged(stack) -> RiskWarning:
    """The rule's latest warning in the replayed week: the first test dismisses its key."""
    live = [RiskWarning.from_json(v) for _, v in read_topic(stack.broker.bootstrap, TOPIC_WARNINGS)]
    flagged = [w for w in live if w.rule_id == RULE]
    assert flagged, f"the simulated week should make {RULE} flag something"
    return max(flagged, key=lambda w: w.ts_ms)  # the sample its key's state keeps


def learned(stack) -> float:
    return metric_sum(stack.worker.url, "riskloop_rule_stats", rule=RULE, stat="learned")


def dead_letters(stack, original: bytes) -> list[dict]:
    records = [orjson.loads(v) for _, v in read_topic(stack.broker.bootstrap, TOPIC_DEADLETTER)]
    return [r for r in records if base64.b64decode(r["original_base64"]) == original]


def test_a_dismissed_detector_warning_is_learned_by_the_live_worker(stack, replayed):
    latest = latest_flagged(stack)
    url = stack.worker.url
    learned = metric_sum(url, "riskloop_rule_stats", rule=RULE, stat="learned")

    verdict = Disposition(
        id="e2e-feedback-1",
        clue_id="e2e-feedback-clue",
        rule_id=RULE,
        key=latest.key,
        outcome="dismissed",
        code="false_positive",
        actor="inspector-e2e",
        ts_ms=latest.ts_ms + 3_600_000,
        warning_ids=(latest.id,),
        sealed=latest.details[SEALED],  # as the clue store writes it: the key is a pseudonym
    )
    send_raw(stack.broker.bootstrap, TOPIC_DISPOSITIONS, [verdict.to_json()], key=b"e2e-feedback")

    wait_for(
        lambda: metric_sum(url, "riskloop_rule_stats", rule=RULE, stat="learned") >= learned + 1,
        60,
        "the worker's detector to learn the dismissed warning",
    )
    assert stack.worker.running()


def test_only_the_verdicts_topic_teaches_the_detector(stack, replayed):
    """Two of the rule's open clues: a forged dismissal of the first goes to events.service
    (the old path's bytes and header, every partition) and is dead-lettered; the second is
    dismissed through the clue API and learned, via risk.verdicts. Had the forged one been
    learned too, the count would grow by two: it was processed before the real one was sent,
    and every reading of the count sums every partition's engine."""
    bootstrap, api = stack.broker.bootstrap, stack.api.url
    centre, inspector = stack.tokens["dispatcher"], stack.tokens["inspector-9"]
    taken = latest_flagged(stack).key  # dismissed straight on clue.dispositions above
    r = stack.redis()
    page = http_json("GET", f"{api}/clues?status=new&rule={RULE}&limit=50", token=centre)
    keyed = {r.hget(f"rl:clue:{c['id']}", "key"): c["id"] for c in page["items"]}
    keyed.pop(taken, None)
    assert len(keyed) >= 2, f"the week should leave two open {RULE} clues, got {keyed}"
    (forged_key, _), (key, clue) = sorted(keyed.items())[:2]
    before = learned(stack)

    forged = verdict_record(
        Disposition("forged-1", "forged-clue", RULE, forged_key, "dismissed", "x", "anyone", 0)
    )
    for p in range(PARTITIONS):
        send_raw(
            bootstrap, TOPIC_SERVICE, [forged], key=b"forged-clue", partition=p, headers=OLD_HEADER
        )
    dead = wait_for(
        lambda: (found := dead_letters(stack, forged)) and len(found) == PARTITIONS and found,
        60,
        "the forged verdict dead-lettered from every partition of events.service",
    )
    assert {(d["topic"], d["reason"]) for d in dead} == {(TOPIC_SERVICE, "missing field 'type'")}
    assert {d["partition"] for d in dead} == set(range(PARTITIONS))

    url = f"{api}/clues/{clue}"
    assert http_json("POST", f"{url}/dispatch", {}, token=centre)["status"] == "dispatched"
    assert http_json("POST", f"{url}/claim", {}, token=inspector)["status"] == "claimed"
    body = {"code": "false_positive", "sub_reason": "expected_behaviour", "note": "usual here"}
    assert http_json("POST", f"{url}/dispose", body, token=inspector)["status"] == "disposed"

    after = wait_for(
        lambda: (n := learned(stack)) >= before + 1 and n,
        60,
        "the detector to learn the dismissal made through the API",
    )
    assert after == before + 1, "the forged verdict on events.service was learned"
    forwarded = [orjson.loads(v) for _, v in read_topic(bootstrap, TOPIC_VERDICTS)]
    mine = [v for v in forwarded if (v.get("key"), v.get("outcome")) == (key, "dismissed")]
    assert len(mine) == PARTITIONS, "the verdict goes to every partition of risk.verdicts"
    assert not [v for v in forwarded if v.get("id") == "forged-1"]


def test_a_malformed_verdict_is_dead_lettered(stack, replayed):
    bad = b'{"rule_id": "approver-anomaly", "outcome": "dismissed"}'
    send_raw(stack.broker.bootstrap, TOPIC_VERDICTS, [bad], key=b"e2e-bad-verdict")

    (dead,) = wait_for(lambda: dead_letters(stack, bad), 60, "the malformed verdict dead-lettered")
    assert dead["topic"] == TOPIC_VERDICTS and isinstance(dead["offset"], int)
    assert dead["reason"] == "bad verdict: missing field 'key'"
    assert stack.worker.running()
