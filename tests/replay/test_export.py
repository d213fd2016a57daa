"""Exporting clue.dispositions for ``rules backtest --dispositions``: against the session
broker, the way a rule author runs it (``riskloop export-dispositions``, then the backtest)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from event_factories import make_event

from envelope.events import ClueTransition, Disposition
from envelope.topics import TOPIC_DISPOSITIONS
from replay.backtest import backtest
from replay.export import ExportError, export_dispositions
from riskloop.cli import main
from riskloop.services import free_port
from riskloop.topic_admin import create_topics
from rules.tools.verdicts import read_dispositions

T0 = 1_772_413_200_000  # 2026-03-02T09:00:00+08:00
DAY = 86_400_000
SURGE = """\
id: {rule}
title: Surge
severity: high
type: threshold
match: {{type: hotline.ticket}}
group_by: [region]
window: 1h
condition: {{gte: 3}}
"""


def _surges(path: Path) -> None:
    """Three tickets in 330106 on day one, three in 330102 on day two: two warnings."""
    events = [
        make_event(ts_ms=T0 + day * DAY + i * 60_000, type="hotline.ticket", region=region)
        for day, region in ((0, "330106"), (1, "330102"))
        for i in range(3)
    ]
    path.write_bytes(b"\n".join(ev.to_json() for ev in events) + b"\n")


def _verdict(tag: str, clue: str, rule: str, key: str, outcome: str, **kw: Any) -> Disposition:
    return Disposition(
        id=f"disp-{tag}-{clue}",
        clue_id=f"clue-{tag}-{clue}",
        rule_id=rule,
        key=key,
        outcome=outcome,
        code="substantiated" if outcome == "confirmed" else "false_positive",
        actor="insp-1",
        ts_ms=kw.pop("ts_ms", T0 + 2 * DAY),
        **kw,
    )


def _step(tag: str, clue: str, rule: str, version: int) -> ClueTransition:
    return ClueTransition(
        id=f"clue-{tag}-{clue}@v{version}",
        clue_id=f"clue-{tag}-{clue}",
        rule_id=rule,
        action="claim",
        from_status="dispatched",
        to_status="claimed",
        actor="insp-1",
        role="inspector",
        ts_ms=T0 + DAY,
        reason="",
        version=version,
    )


async def _send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send_and_wait(topic, value, key=f"clue-{i % 3}".encode())
    finally:
        await producer.stop()


def test_exported_verdicts_score_a_backtest(
    tansu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verdicts on the topic next to clue steps and a re-sent verdict: the export holds each
    verdict once and no step, and the backtest scores the rule's warnings with them."""
    tag = uuid.uuid4().hex[:8]
    rule = f"surge-{tag}"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "surge.yaml").write_text(SURGE.format(rule=rule))
    events = tmp_path / "events.jsonl"
    _surges(events)
    fired = {w.key: w for w in backtest(events, rules, partitions=1, lateness_ms=0).warnings}
    confirmed = _verdict(tag, "a", rule, "330106", "confirmed", warning_ids=(fired["330106"].id,))
    dismissed = _verdict(tag, "b", rule, "330102", "dismissed")  # matched by rule and key
    sealed = dataclasses.replace(dismissed, sealed="the originals under the pseudonym key")
    records = [
        _step(tag, "a", rule, 2),
        confirmed,
        _step(tag, "b", rule, 2),
        sealed,  # as the store writes it: the seal is for the worker only
        confirmed,  # the outbox sends again after a failure
    ]
    asyncio.run(_send(tansu.bootstrap, TOPIC_DISPOSITIONS, [r.to_json() for r in records]))

    out = tmp_path / "dispositions.jsonl"
    argv = ["export-dispositions", "--out", str(out), "--bootstrap", tansu.bootstrap, "--quiet"]
    assert main(argv) == 0
    assert f"dispositions to {out}" in capsys.readouterr().out
    ours = [d for d in read_dispositions(out) if d.rule_id == rule]
    assert ours == [confirmed, dismissed]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(line["kind"] == "disposition" for line in lines)
    assert not any("sealed" in line for line in lines)

    argv = ["rules", "backtest", str(events), "--rules", str(rules), "--partitions", "1"]
    assert main([*argv, "--dispositions", str(out), "--format", "json"]) == 0
    score = json.loads(capsys.readouterr().out)["dispositions"][rule]
    assert (score["warnings"], score["confirmed"], score["dismissed"]) == (2, 1, 1)
    assert (score["precision"], score["recall"]) == (0.5, 1.0)


def test_from_to_keep_verdicts_made_in_those_days_and_bad_records_are_named(
    tansu: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    topic = f"clue.dispositions.{tag}"  # a topic of its own: nothing else on it
    asyncio.run(create_topics(tansu.bootstrap, {topic: 2}))
    early = _verdict(tag, "a", "r", "k1", "confirmed", ts_ms=T0)
    late = _verdict(tag, "b", "r", "k2", "dismissed", ts_ms=T0 + 3 * DAY)
    values = [early.to_json(), b"{not json", late.to_json(), _step(tag, "a", "r", 3).to_json()]
    asyncio.run(_send(tansu.bootstrap, topic, values))

    out = tmp_path / "march.jsonl"
    since, until = T0 + DAY, T0 + 4 * DAY
    report = asyncio.run(
        export_dispositions(
            out, tansu.bootstrap, since_ms=since, until_ms=until, topic=topic, progress=False
        )
    )
    assert read_dispositions(out) == [late]
    assert (report.read, report.written) == (4, 1)
    assert report.skipped == {"unreadable": 1, "transitions": 1, "outside --from/--to": 1}
    assert f"skipped {topic}[" in capfd.readouterr().err


def test_unreachable_broker_or_bad_date_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    out = tmp_path / "d.jsonl"
    assert main(["export-dispositions", "--out", str(out), "--bootstrap", nowhere]) == 2
    assert f"cannot reach the broker at {nowhere}" in capsys.readouterr().err
    assert not out.exists()
    argv = ["export-dispositions", "--out", str(out), "--bootstrap", nowhere, "--to", "3rd May"]
    assert main(argv) == 2
    assert "--to '3rd May' is not a date: write a day like 2026-03-02" in capsys.readouterr().err
    with pytest.raises(ExportError, match="the folder .* does not exist"):
        asyncio.run(export_dispositions(tmp_path / "no" / "d.jsonl", nowhere))
