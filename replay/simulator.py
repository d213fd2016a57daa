"""A labelled city event simulator: a week of service and regulatory events with known risks.

``generate`` builds a city (8 districts, departments, enterprises, pseudonymised citizens,
staff accounts and officials), lets it live for ``days`` days with a realistic rhythm (office
hours, weekends, an evening hotline peak, a little night noise, an enterprise register) and
injects five risk scenarios inside one district (``replay.sim_scenarios``) and four whose key
crosses districts (``replay.sim_cross``), whose ground truth comes back as labels; the
background's own findings left unrectified past the first stage of their time limit are
labelled too (``inspection_not_rectified``). Same seed,
same output: one ``random.Random(seed)`` drives everything and nothing reads the wall clock.

Examples:
    >>> events, labels = generate(seed=3, days=1, scale=0.2)
    >>> events == generate(seed=3, days=1, scale=0.2)[0]
    True
    >>> events[0]["ts"] <= events[-1]["ts"], events[0]["ts"][:10], events[0]["ts"][-6:]
    (True, '2026-03-02', '+08:00')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from replay.formats import write_events
from replay.sim_apps import background_applications
from replay.sim_background import background_data_access, background_hotline, background_regulatory
from replay.sim_core import Sim
from replay.sim_cross import CROSS_DISTRICT_SCENARIOS
from replay.sim_feeds import feeds
from replay.sim_registry import background_registry
from replay.sim_rejections import high_rejection
from replay.sim_scenarios import SCENARIOS
from replay.sim_signals import SIGNAL_SCENARIOS, service_signals
from replay.sim_variants import batch_account, festival_rise

# Variants ``generate`` can add: background no rule should flag (``replay.sim_variants``),
# the data-sharing feeds with their two labelled outages (``replay.sim_feeds``) and officials
# who turn strict, labelled ``official_high_rejection`` (``replay.sim_rejections``).
VARIANTS = {
    "festival": festival_rise,
    "batch_account": batch_account,
    "feeds": feeds,
    "high_rejection": high_rejection,
}

SCENARIO_NAMES = (
    "approval_overdue",
    "repeated_submissions",
    "hotline_surge",
    "staff_bulk_access",
    "approver_anomaly",
    "cross_district_resubmissions",
    "shared_bank_account",
    "dereg_after_finding",
    "inspection_not_rectified",
    "shared_address",
    *SIGNAL_SCENARIOS,
)


def generate(
    seed: int,
    days: int = 7,
    start: str = "2026-03-02",
    scale: float = 1.0,
    cross_district: bool = True,
    variants: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, labels) for ``days`` days from local date ``start`` (Asia/Shanghai).

    events are envelope dicts as ``envelope.events.Event.from_dict`` accepts them, sorted by
    ``ts``; labels are ``{"scenario", "key", "start", "end", "region", "note"}`` with ISO
    timestamps (and ``regions`` for a cross-district one), sorted by start. ``scale``
    multiplies populations and background volume (about 50-80k events per week at 1.0);
    scenario counts depend on ``days`` only. ``cross_district=False`` leaves out the
    enterprise register and the cross-district scenarios: every key stays in one district,
    and the rest is the same event for event. ``variants`` names background variants of
    :data:`VARIANTS` to add (a city-wide festival rise of the hotline, a nightly batch
    account, office-hours data feeds with empty batches and two labelled outages, officials
    rejecting most of their decisions for three working days, labelled): drawn
    after everything else, so the rest stays the same event for event.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(
            f"unknown simulator variant(s) {unknown}: the variants are {list(VARIANTS)}"
        )
    sim = Sim(seed, days, start, scale)
    background_applications(sim)
    background_hotline(sim)
    background_data_access(sim)
    background_regulatory(sim)
    for inject in SCENARIOS:
        inject(sim)
    service_signals(sim)  # drawn after the in-district scenarios, which stay what they were
    if cross_district:  # drawn last, so the in-district events stay what they were
        background_registry(sim)
        for inject in CROSS_DISTRICT_SCENARIOS:
            inject(sim)
    for name in VARIANTS:  # in the table's order, whatever order they were asked in
        if name in variants:
            VARIANTS[name](sim)
    sim.rows.sort(key=lambda row: (row[0], row[1]))
    sim.labels.sort(key=lambda row: (row[0], row[1]["scenario"], row[1]["key"]))
    return [event for _, _, event in sim.rows], [label for _, label in sim.labels]


def labels_path(events_path: Path) -> Path:
    """Where the labels of an events file go, whatever its format.

    >>> labels_path(Path("out/week.jsonl")).as_posix(), labels_path(Path("w.csv.gz")).as_posix()
    ('out/week.labels.jsonl', 'w.labels.jsonl')
    """
    stem = events_path.name.removesuffix(".gz")
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return events_path.with_name(stem + ".labels.jsonl")


def simulate_to_file(
    out: Path,
    seed: int,
    days: int = 7,
    start: str = "2026-03-02",
    scale: float = 1.0,
    cross_district: bool = True,
    variants: tuple[str, ...] = (),
) -> tuple[int, int]:
    """Write events to ``out`` (format by extension, see replay.formats) and labels beside it.

    Returns (events written, labels written).
    """
    events, labels = generate(seed, days, start, scale, cross_district, variants)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_events(events, out)
    with labels_path(out).open("wb") as f:
        f.writelines(orjson.dumps(label) + b"\n" for label in labels)
    return written, len(labels)
