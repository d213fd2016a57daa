"""Hot reload on the live worker: a bad rule file is rejected and the running set keeps
working; a new valid rule starts firing without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import BAD_REGION, metric_sum, on_time_ms, send_raw, wait_for
from event_factories import make_event

from envelope.topics import TOPIC_SERVICE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROBE = """\
id: reload-probe
title: "Probe event seen in {region}"
type: threshold
match: {type: probe.event}
group_by: [region]
window: 1h
condition: {gte: 1}
"""


def test_rules_reload_without_restart(stack, replayed):
    rules_dir = Path(stack.env["RISKLOOP_RULES_DIR"])
    url = stack.worker.url
    rejected = metric_sum(url, "riskloop_rules_reloads_total", result="rejected")
    (rules_dir / "zz-broken.yaml").write_text(PROBE.replace("1h", "one hour"))
    wait_for(
        lambda: metric_sum(url, "riskloop_rules_reloads_total", result="rejected") > rejected,
        30,
        "the bad rule set to be rejected",
    )
    log = stack.worker.log_path.read_text(errors="replace")
    assert "zz-broken.yaml:6:1" in log and "keeps running" in log

    (rules_dir / "zz-broken.yaml").unlink()
    (rules_dir / "reload-probe.yaml").write_text(PROBE)
    wait_for(
        lambda: metric_sum(url, "riskloop_rules_reloads_total", result="accepted") >= 1,
        30,
        "the new rule set to be loaded",
    )
    at = on_time_ms(url, BAD_REGION)  # an event behind the watermark would be refused as late
    probe = make_event(ts_ms=at, type="probe.event", region=BAD_REGION, id="probe-1")
    send_raw(stack.broker.bootstrap, TOPIC_SERVICE, [probe.to_json()], key=BAD_REGION.encode())
    wait_for(
        lambda: metric_sum(url, "riskloop_warnings_total", rule="reload-probe") >= 1,
        30,
        "the new rule to fire",
    )
    assert stack.worker.running()
