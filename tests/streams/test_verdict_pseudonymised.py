"""Warnings leave the worker with pseudonymised keys, yet an inspector's dismissal of such a
clue still teaches the detector of the shard holding the key: the disposition carries the
seal of the clue's warning, the feedback step opens the rules' own key from it to route the
verdict, and the shard opens it again to find the key's state. No raw identifier travels on
the verdicts topic."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from event_factories import make_event
from pipeline import Pipeline

from envelope.events import Disposition, RiskWarning
from envelope.pseudonym import SEALED, Masker
from envelope.settings import Settings
from envelope.topics import TOPIC_SERVICE
from rules import RuleSet
from rules.engine.keyspace import WHOLE, KeyPlan
from rules.language.model import parse_rule
from streams.agents import forward_verdict
from streams.emit import Emitter, worker_masker

T0 = 1_772_414_100_000  # 2026-03-02T01:15:00Z
RULE = "odd-exports"
ANOMALY = (
    f"id: {RULE}\ntitle: t\ntype: anomaly\nmatch: {{type: data.export}}\n"
    "group_by: [attrs.account]\ndetector: {name: gaussian}\n"
    'features: ["value:attrs.rows"]\nthreshold: {quantile: 0.95, min_samples: 50}\n'
)
P = KeyPlan.partition(WHOLE, 4)  # an anomaly rule's detector lives on one partition
ODD = "stf-0dd5ca1e"  # the account whose export is flagged: a staff id, personal
KEY = b"the worker's pseudonym key"


class MaskingWorker(Pipeline):
    """The worker's steps with warnings pseudonymised on their way out, as the live one."""

    def __init__(self, key: bytes = KEY) -> None:
        super().__init__(RuleSet([parse_rule(ANOMALY, f"{RULE}.yaml")]))
        self.emit = Emitter(self.t, Masker(key), lambda rule_id: ("attrs.account",))  # type: ignore[arg-type]

    def learned(self) -> int:
        return sum(self.engines.get(p).engine.stats[RULE]["learned"] for p in range(4))

    def dispose(self, d: Disposition) -> list[bytes]:
        """The feedback step and the evaluate step for one disposition; the verdict records
        the feedback step wrote."""
        before = len(self.t.verdicts.sent)
        self.run(forward_verdict(self.emit, self.engines.plan, 4, d))
        sent = self.t.verdicts.sent[before:]
        for p, value in sent:
            assert p is not None
            self.verdict(p, value)
        return [value for _, value in sent]


def exports(w: Pipeline) -> RiskWarning:
    """A hundred usual exports and an odd one through ``w``: the one warning it raises."""
    for i in range(100):
        ev = make_event(
            ts_ms=T0 + i * 60_000, type="data.export", account=f"stf-{i % 9}", rows=20 + i % 5
        )
        w.send(TOPIC_SERVICE, ev.to_json())
    odd = make_event(ts_ms=T0 + 101 * 60_000, type="data.export", account=ODD, rows=900)
    w.send(TOPIC_SERVICE, odd.to_json())
    w.flush(quiet=True)
    (warning,) = w.warnings
    return warning


def flagged() -> tuple[MaskingWorker, RiskWarning]:
    w = MaskingWorker()
    return w, exports(w)


def dismissal(warning: RiskWarning, sealed: str) -> Disposition:
    """What the clue store writes when an inspector dismisses the warning's clue."""
    return Disposition(
        "d1", "c1", RULE, warning.key, "dismissed", "false_positive", "al", T0, (warning.id,),
        sealed=sealed,
    )  # fmt: skip


def test_a_dismissed_pseudonymised_warning_is_learned_by_the_shard_holding_its_key() -> None:
    w, warning = flagged()
    assert ODD not in warning.to_json().decode(), "the warning left the worker pseudonymised"
    assert warning.key == Masker(KEY).pseudonym(ODD)

    records = w.dispose(dismissal(warning, warning.details[SEALED]))

    assert w.learned() == 1
    assert records and not [r for r in records if ODD.encode() in r]
    assert w.dead_letters == []


def test_without_the_seal_the_pseudonym_matches_no_state_and_nothing_is_learned() -> None:
    w, warning = flagged()
    w.dispose(dismissal(warning, ""))
    assert w.learned() == 0
    w.dispose(dismissal(warning, warning.details[SEALED]))  # the sample still waits for it
    assert w.learned() == 1


def test_a_seal_no_key_opens_is_logged_and_learned_by_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w, warning = flagged()
    w.emit = Emitter(w.t, Masker(b"a new key; the old one not kept"))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, "riskloop.worker"):
        w.dispose(dismissal(warning, warning.details[SEALED]))
    assert w.learned() == 0
    assert f"verdict d1 on rule {RULE}: its warning's seal does not open" in caplog.text
    assert ODD not in caplog.text


def test_the_warning_keeps_the_rules_id_and_fingerprint() -> None:
    masked = flagged()[1]
    plain = exports(Pipeline(RuleSet([parse_rule(ANOMALY, f"{RULE}.yaml")])))
    assert plain.key == ODD and masked.key != ODD
    assert (masked.id, masked.fingerprint) == (plain.id, plain.fingerprint)


def test_after_a_rotation_that_keeps_the_old_key_a_dismissal_is_still_learned(
    tmp_path: Path,
) -> None:
    w, warning = flagged()  # sealed under KEY
    old_keys = tmp_path / "old-keys"
    old_keys.write_bytes(KEY + b"\n")
    rotated = Settings(
        pseudonym_key="the key after the rotation", pseudonym_old_keys_file=str(old_keys)
    )
    w.emit = Emitter(w.t, worker_masker(rotated))  # type: ignore[arg-type]

    w.dispose(dismissal(warning, warning.details[SEALED]))

    assert w.learned() == 1
