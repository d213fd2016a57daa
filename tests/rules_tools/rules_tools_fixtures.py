"""Rule texts and paths shared by the rule-tool tests."""

from __future__ import annotations

from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"

SURGE = """\
id: surge
title: Surge
status: experimental
severity: high
type: threshold
match: {type: hotline.ticket}
group_by: [region]
window: 1h
condition: {gte: 3}
output:
  title: "Surge in {region}: {value} tickets"
"""

OVERDUE = """\
id: overdue
title: Not decided in time
status: experimental
type: absence
group_by: [attrs.app]
anchor: {type: app.accepted}
fulfilled_by: {type: app.decided}
deadline: {after: 1d}
"""
