"""``riskloop bench detectors``: the labelled corpus scored per detector and anomaly kind."""

from __future__ import annotations

import pytest

from riskloop.cli import main

KINDS = ["flatline", "level_down", "level_up", "low_slow", "none", "seasonal_break", "shape"]
KINDS += ["spike", "trend", "variance"]


def corpus_scores(out: str) -> dict[str, float]:
    heads = [line for line in out.splitlines() if ": corpus score " in line]
    return {h.split(":")[0]: float(h.split("corpus score ")[1].split(",")[0]) for h in heads}


def test_the_bench_prints_a_row_per_kind_and_the_default_beats_the_value_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "detectors", "--seeds", "1", "--length", "1500"]
    assert main([*argv, "--only", "default,gaussian-value,hst-value"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "corpus: 31 series of 1,500 events (seeds 1)"
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert rows == 3 * (["kind", *KINDS])
    last = out.splitlines()[-1]
    assert last.startswith("per-entity baselines (per_key), bytes per key after two weeks: ")
    assert [part.split()[0] for part in last.split(": ")[1].split(", ")] == [
        "profile",
        "gaussian",
        "seasonal",
        "robust",
    ]
    scores = corpus_scores(out)
    assert scores["default"] > scores["gaussian-value"] + 10 > scores["hst-value"] + 10


def test_an_unknown_detector_is_refused_with_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "detectors", "--only", "default,nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown detector 'nope': choose from default, robust-value, gaussian" in err
