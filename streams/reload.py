"""Hot reload of the rule set: poll the rules folder, validate the whole set, swap engines.

A changed folder is loaded all-or-nothing; an invalid set is rejected with every error
(``file:line:col: message``) logged and counted, and the running set stays. A valid set
replaces every partition's engine between two events, carrying over the state of each rule
whose logic did not change (state is namespaced by rule id and logic hash).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import Counter, Gauge

from rules import RuleSet, RuleSetError, load_rules

log = logging.getLogger("riskloop.rules")

RELOADS = Counter("riskloop_rules_reloads", "Rule set reload attempts", ["result"])
RULESET = Gauge("riskloop_ruleset_info", "The running rule set", ["version"])
for _result in ("accepted", "rejected"):  # series exist at zero: increase() counts the first
    RELOADS.labels(_result)


def folder_files(folder: Path) -> list[tuple[str, bytes]]:
    """Every YAML file of a rules folder (recursively): path inside the folder, bytes.
    ``.yml`` files count too, so adding one is a change the loader then refuses by name."""
    paths = [*folder.rglob("*.yaml"), *folder.rglob("*.yml")]
    return [(str(path.relative_to(folder)), path.read_bytes()) for path in sorted(paths)]


def digest_files(files: Iterable[tuple[str, bytes]]) -> str:
    """Content hash of a rule set's files (names and bytes), the set's version.

    >>> digest_files([("a.yaml", b"id: a")]) == digest_files([("a.yaml", b"id: a")])
    True
    """
    h = hashlib.sha256()
    for name, data in sorted(files):
        h.update(name.encode() + b"\0")
        h.update(data + b"\0")
    return h.hexdigest()[:12]


def folder_digest(folder: Path) -> str:
    """Content hash of a rules folder (names and bytes of its YAML files, recursively)."""
    return digest_files(folder_files(folder))


def switch_gauge(old: str | None, new: str) -> None:
    """``riskloop_ruleset_info{version}`` shows the running set only."""
    if old is not None:
        RULESET.remove(old)
    RULESET.labels(new).set(1)


class RuleWatcher:
    """Remembers the running set's digest; ``poll()`` returns a new valid set or None."""

    def __init__(self, folder: str | Path, running: RuleSet) -> None:
        self.folder = Path(folder)
        self.digest = folder_digest(self.folder)
        self.rejected: str | None = None
        self.ruleset = running
        switch_gauge(None, self.digest)

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
        except Exception as exc:  # RuleSetError, or a fault of the loader: never a crash
            if folder_digest(self.folder) != digest:  # a copy in progress, not yet a verdict
                return None
            self.rejected = digest
            RELOADS.labels("rejected").inc()
            if isinstance(exc, RuleSetError):
                log.error("rule set %s rejected, %s keeps running:\n%s", digest, self.digest, exc)
            else:
                log.exception(
                    "rule set %s could not be loaded, %s keeps running", digest, self.digest
                )
            return None
        switch_gauge(self.digest, digest)
        RELOADS.labels("accepted").inc()
        log.warning(
            "rule set %s loaded (%d rules), replacing %s", digest, len(ruleset.rules), self.digest
        )
        self.digest, self.rejected, self.ruleset = digest, None, ruleset
        return ruleset
