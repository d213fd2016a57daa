"""A backtest's results as pandas DataFrames: its warnings, per-rule and per-day summaries,
scores against labels, precision against inspectors' verdicts, and two runs side by side.

Built on :func:`replay.backtest.backtest` and the :class:`~replay.backtest.BacktestReport` it
returns; nothing here runs rules itself, so a frame always says what ``riskloop backtest``
prints.

    one = run_backtest("march.jsonl", "rules/library", labels_path="march.labels.jsonl")
    one.by_rule.sort_values("warnings", ascending=False).head()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from replay.backtest import SEVERITIES, BacktestReport, backtest
from replay.warnings_out import COLUMNS, flat_frame, offset_tz, warning_record

SCORE_COLUMNS = ["labels", "detected", "recall", "warnings", "matched", "precision"]


@dataclass
class BacktestFrames:
    """One backtest as frames; ``report`` is the run itself.

    ``warnings``: one row per warning (the flat columns of ``--warnings-out``, ``ts`` a
    timezone-aware datetime at the file's offset, ``day`` its date there, ``tags`` a list).
    ``by_rule`` (index ``rule_id``): ``warnings``, one column per severity, ``keys``
    (distinct keys), ``first``/``last`` event time and ``suppressed`` repeats; every rule of
    the set has a row, a silent one with zeros. ``by_day`` (index ``day``): ``warnings`` and
    one column per rule. ``scores`` (index ``scenario``): recall and precision against the
    labels, empty without labels. ``rejects``: ``row`` and ``reason`` of the first rejects.
    """

    report: BacktestReport
    warnings: pd.DataFrame
    by_rule: pd.DataFrame
    by_day: pd.DataFrame
    scores: pd.DataFrame
    rejects: pd.DataFrame


def run_backtest(path: str | Path, rules_dir: str | Path, **options: Any) -> BacktestFrames:
    """:func:`replay.backtest.backtest` with the same arguments, as frames."""
    return backtest_frames(backtest(path, rules_dir, **options))


def backtest_frames(report: BacktestReport) -> BacktestFrames:
    """The frames of a report already run."""
    warnings = warnings_frame(report)
    return BacktestFrames(
        report=report,
        warnings=warnings,
        by_rule=_by_rule(report, warnings),
        by_day=_by_day(warnings),
        scores=scores_frame(report),
        rejects=pd.DataFrame(report.reject_samples, columns=["row", "reason"]),
    )


def warnings_frame(report: BacktestReport) -> pd.DataFrame:
    """One row per warning, in the order they fired (see :class:`BacktestFrames`)."""
    tz = offset_tz(report.tz)
    frame = flat_frame([warning_record(w, tz) for w in report.warnings])
    for name in ("id", "rule_id", "severity", "region", "department", "key", "stage", "title"):
        frame[name] = frame[name].astype("string")
    frame["ts"] = pd.to_datetime(frame["ts_ms"], unit="ms", utc=True).dt.tz_convert(tz)
    frame["day"] = frame["ts"].dt.date
    frame["tags"] = [list(w.tags) for w in report.warnings]
    for name in ("evidence", "details"):
        frame[name] = frame[name].map(orjson.loads)
    return frame[[*COLUMNS[:4], "day", *COLUMNS[4:]]]


def _by_rule(report: BacktestReport, warnings: pd.DataFrame) -> pd.DataFrame:
    rules = pd.Index(report.rules, name="rule_id", dtype="string")
    grouped = warnings.groupby("rule_id", observed=True)
    severities = pd.crosstab(warnings["rule_id"], warnings["severity"])
    order = [s for s in SEVERITIES if s in severities.columns]
    order += sorted(set(severities.columns) - set(order))
    frame = pd.DataFrame(
        {
            "warnings": grouped.size(),
            **{s: severities[s] for s in order},
            "keys": grouped["key"].nunique(),
        }
    )
    frame = frame.reindex(rules.union(frame.index.astype("string"), sort=False)).fillna(0)
    frame = frame.astype("int64")
    frame["first"] = grouped["ts"].min()
    frame["last"] = grouped["ts"].max()
    frame["suppressed"] = pd.Series(dict(report.suppressed), dtype="int64")
    frame["suppressed"] = frame["suppressed"].fillna(0).astype("int64")
    frame.index.name = "rule_id"
    return frame


def _by_day(warnings: pd.DataFrame) -> pd.DataFrame:
    per_rule = pd.crosstab(warnings["day"], warnings["rule_id"])
    per_rule.columns.name = None
    frame = pd.concat([per_rule.sum(axis=1).rename("warnings"), per_rule], axis=1)
    frame.index.name = "day"
    return frame.astype("int64")


def scores_frame(report: BacktestReport) -> pd.DataFrame:
    """Recall and precision per scenario against the run's labels (empty without)."""
    rows = [
        {"scenario": s.scenario, **{c: getattr(s, c) for c in SCORE_COLUMNS}}
        for s in (report.scores or {}).values()
    ]
    frame = pd.DataFrame(rows, columns=["scenario", *SCORE_COLUMNS]).set_index("scenario")
    for name in ("recall", "precision"):
        frame[name] = frame[name].astype("Float64")
    return frame


def read_dispositions(path: str | Path) -> pd.DataFrame:
    """The verdicts ``riskloop export-dispositions`` wrote, one row each."""
    with Path(path).open("rb") as f:
        records = [orjson.loads(line) for line in f if line.strip()]
    columns = ["id", "clue_id", "rule_id", "key", "outcome", "code", "actor", "ts_ms"]
    frame = pd.DataFrame(records, columns=[*columns, "warning_ids"])
    frame["ts"] = pd.to_datetime(frame["ts_ms"], unit="ms", utc=True)
    return frame


def precision(frames: BacktestFrames, dispositions: pd.DataFrame) -> pd.DataFrame:
    """Per rule: warnings judged by an inspector, confirmed, dismissed and precision
    (confirmed / judged), joining each verdict to the warnings it names by id."""
    verdicts = dispositions[["outcome", "warning_ids"]].explode("warning_ids")
    verdicts = verdicts.rename(columns={"warning_ids": "id"}).dropna(subset=["id"])
    verdicts = verdicts.drop_duplicates("id", keep="last")
    joined = frames.warnings[["id", "rule_id"]].merge(verdicts.astype({"id": "string"}), on="id")
    counts = pd.crosstab(joined["rule_id"], joined["outcome"])
    out = pd.DataFrame(index=frames.by_rule.index)
    out["warnings"] = frames.by_rule["warnings"]
    for outcome in ("confirmed", "dismissed"):
        out[outcome] = counts[outcome] if outcome in counts.columns else 0
    out = out.fillna(0).astype("int64")
    out["judged"] = out["confirmed"] + out["dismissed"]
    out["precision"] = (out["confirmed"] / out["judged"].where(out["judged"] > 0)).astype("Float64")
    return out


def compare(runs: dict[str, BacktestFrames]) -> pd.DataFrame:
    """Rules side by side across named runs: warnings per run, and recall and precision
    per run when the runs were scored (a rule tagged for several scenarios gets its first).
    ``compare({"v1": a, "v2": b})`` has ``warnings_v1``, ``warnings_v2`` and ``change``.
    """
    columns = []
    for name, run in runs.items():
        part = run.by_rule[["warnings"]].rename(columns={"warnings": f"warnings_{name}"})
        if len(run.scores):
            scenario = _scenario_of(run)
            for metric in ("recall", "precision"):
                part[f"{metric}_{name}"] = scenario.map(run.scores[metric]).astype("Float64")
        columns.append(part)
    frame = pd.concat(columns, axis=1)
    counts = [c for c in frame.columns if c.startswith("warnings_")]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    if len(counts) == 2:
        frame["change"] = frame[counts[1]] - frame[counts[0]]
    return frame


def _scenario_of(run: BacktestFrames) -> pd.Series:
    tagged = run.warnings[["rule_id", "tags"]].drop_duplicates("rule_id")
    scenario = {
        rule: next((t[len("scenario:") :] for t in tags if t.startswith("scenario:")), None)
        for rule, tags in zip(tagged["rule_id"], tagged["tags"], strict=True)
    }
    return pd.Series(scenario, index=run.by_rule.index, dtype="object")
