"""The clue sink reads risk.warnings: a record there that is not a well-formed warning (any
producer can write to the topic) is dead-lettered with its reason and where it was read,
and the well-formed warnings of the same batch still reach the clue store."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from pipeline import Record
from pipeline import Topic as Sink

from envelope.events import RiskWarning
from envelope.topics import TOPIC_WARNINGS
from streams.agents import _warning_or_deadletter
from streams.emit import Emitter

GOOD = RiskWarning(
    id="w-1", fingerprint="f-1", rule_id="staff-bulk-access", rule_version=1,
    logic_hash="h", severity="critical", title="t", key="stf-1", ts_ms=1772414100000,
    region="330106", department="civil-affairs",
)  # fmt: skip


class Topics:
    def __init__(self) -> None:
        self.warnings, self.deadletter = Sink(), Sink()


def sink_step(values: list[bytes]) -> tuple[list[RiskWarning], list[dict[str, object]]]:
    t = Topics()
    emit = Emitter(t)  # type: ignore[arg-type]  # the two sinks it sends to
    records = [Record(TOPIC_WARNINGS, 2, 40 + i, v) for i, v in enumerate(values)]

    async def run() -> list[RiskWarning | None]:
        return [await _warning_or_deadletter(emit, r) for r in records]  # type: ignore[arg-type]

    kept = [w for w in asyncio.run(run()) if w is not None]
    return kept, [orjson.loads(v) for _, v in t.deadletter.sent]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "not a risk warning: JSONDecodeError"),
        (b"[1, 2]", "not a risk warning: TypeError"),
        (b'{"id": "w-2"}', "not a risk warning: TypeError"),
        (orjson.dumps({**GOOD.to_dict(), "ts_ms": "soon"}), "ts_ms must be a whole number"),
        (orjson.dumps({**GOOD.to_dict(), "key": {"x": 1}}), "key must be text"),
    ],
)
def test_a_record_that_is_not_a_warning_is_dead_lettered_and_the_rest_go_on(
    value: bytes, reason: str
) -> None:
    kept, dead = sink_step([GOOD.to_json(), value, GOOD.to_json()])
    assert [w.id for w in kept] == ["w-1", "w-1"]
    assert len(dead) == 1
    assert str(dead[0]["reason"]).startswith("not a risk warning") and reason in str(
        dead[0]["reason"]
    )
    assert (dead[0]["topic"], dead[0]["partition"], dead[0]["offset"]) == (TOPIC_WARNINGS, 2, 41)
    assert dead[0]["original"] == value.decode()
