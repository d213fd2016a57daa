"""Hot reload of the rule set: poll the rules folder, validate the whole set, swap engines.

A changed folder is loaded all-or-nothing; an invalid set is rejected with every error
(``file:line:col: message``) logged and counted, and the running set stays. A valid set
replaces every partition's engine between two events, carrying over the state of each rule
whose logic did not change (state is namespaced by rule id and logic hash).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from prometheus_client import Counter, Gauge

from rules import RuleSet, RuleSetError, load_rules

log = logging.getLogger("riskloop.rules")

RELOADS = Counter("riskloop_rules_reloads", "Rule set reload attempts", ["result"])
RULESET = Gauge("riskloop_ruleset_info", "The running rule set", ["version"])
for _result in ("accepted", "rejected"):  # series exist at zero: increase() counts the first
    RELOADS.labels(_result)


def folder_digest(folder: Path) -> str:
    """Content hash of a rules folder (names and bytes of its YAML files, recursively)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.yaml")):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


class RuleWatcher:
    """Remembers the running set's digest; ``poll()`` returns a new valid set or None."""

    def __init__(self, folder: str | Path, running: RuleSet) -> None:
        self.folder = Path(folder)
        self.digest = folder_digest(self.folder)
        self.rejected: str | None = None
        self.ruleset = running
        RULESET.labels(self.digest).set(1)

    def poll(self) -> RuleSet | None:
        try:
            digest = folder_digest(self.folder)
        except OSError as exc:
            log.warning("cannot read rules folder %s: %s", self.folder, exc)
            return None
        if digest in (self.digest, self.rejected):
            return None
        try:
            ruleset = load_rules(self.folder)
            if folder_digest(self.folder) != digest:  # changed while it was read: next time
                return None
        except RuleSetError as exc:
            if folder_digest(self.folder) != digest:  # a copy in progress, not yet a verdict
                return None
            self.rejected = digest
            RELOADS.labels("rejected").inc()
            log.error("rule set %s rejected, %s keeps running:\n%s", digest, self.digest, exc)
            return None
        RULESET.remove(self.digest)
        RULESET.labels(digest).set(1)
        RELOADS.labels("accepted").inc()
        log.warning(
            "rule set %s loaded (%d rules), replacing %s", digest, len(ruleset.rules), self.digest
        )
        self.digest, self.rejected, self.ruleset = digest, None, ruleset
        return ruleset
