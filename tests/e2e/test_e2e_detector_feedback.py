"""The loop's last step on the live worker: an inspector dismisses a detector's warning, the
verdict travels clue.dispositions -> feedback agent -> every partition of events.service, and
the engine holding that key teaches its detector the pattern is normal."""

from __future__ import annotations

import pytest
from e2e_support import metric_sum, read_topic, send_raw, wait_for

from envelope.events import Disposition, RiskWarning
from envelope.topics import TOPIC_DISPOSITIONS, TOPIC_WARNINGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RULE = "approver-anomaly"  # the library's detector rule (shadow: warnings, never clues)


def test_a_dismissed_detector_warning_is_learned_by_the_live_worker(stack, replayed):
    live = [RiskWarning.from_json(v) for _, v in read_topic(stack.broker.bootstrap, TOPIC_WARNINGS)]
    flagged = [w for w in live if w.rule_id == RULE]
    assert flagged, f"the simulated week should make {RULE} flag something"
    latest = max(flagged, key=lambda w: w.ts_ms)  # the sample its key's state keeps
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
    )
    send_raw(stack.broker.bootstrap, TOPIC_DISPOSITIONS, [verdict.to_json()], key=b"e2e-feedback")

    wait_for(
        lambda: metric_sum(url, "riskloop_rule_stats", rule=RULE, stat="learned") >= learned + 1,
        60,
        "the worker's detector to learn the dismissed warning",
    )
    assert stack.worker.running()
