"""Nobody outside the identity view sees a simulated person's identifiers: not on the
warnings topic, not in Redis, not in the worker's or the API's log, not on a /metrics page.

The dead-letter topic is left out on purpose: it keeps a bad record's original bytes (they
are needed to fix its producer) and is documented as sensitive as the event topics.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from e2e_support import http_json, metric_sum, read_topic, wait_for

from envelope.redact import ID_CARD, PHONE
from envelope.topics import TOPIC_DISPOSITIONS, TOPIC_VERDICTS, TOPIC_WARNINGS
from envelope.vocabulary import PERSONAL_ATTRS, PERSONAL_KINDS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DETECTOR_RULE = "approver-anomaly"  # the library's detector rule, keyed by the official


def raw_identifiers(week: Path) -> set[str]:
    """The week's personal identifiers: personal entity ids, personal attributes' values, and
    ID and mobile numbers anywhere in an event."""
    found: set[str] = set()
    firms: set[str] = set()  # an enterprise applying is named by its credit code: not a person
    for line in week.read_bytes().splitlines():
        event = orjson.loads(line)
        entity = event.get("entity") or {}
        if str(entity.get("kind", "")).lower() in PERSONAL_KINDS and entity.get("id"):
            found.add(str(entity["id"]))
        elif entity.get("id"):
            firms.add(str(entity["id"]))
        for name, value in (event.get("attrs") or {}).items():
            if name.lower() in PERSONAL_ATTRS and isinstance(value, str) and value:
                found.add(value)
        text = line.decode()
        found.update(ID_CARD.findall(text), PHONE.findall(text))
    return found - firms


def leaks(text: str, raw: set[str]) -> set[str]:
    """The identifiers of ``raw`` standing on their own in ``text``."""
    tokens = set(re.findall(r"[0-9A-Za-z_-]+", text))
    return tokens & raw


def redis_dump(r) -> str:
    parts = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == "string":
            value = r.get(key)
        elif kind == "hash":
            value = r.hgetall(key)
        elif kind == "list":
            value = r.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(r.smembers(key))
        elif kind == "zset":
            value = r.zrange(key, 0, -1)
        elif kind == "stream":
            value = r.xrange(key)
        else:
            value = kind
        parts.append(f"{key} {value!r}")
    return "\n".join(parts)


def page(url: str, token: str | None = None) -> str:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


def test_no_raw_identifier_leaves_the_worker(stack, replayed, week):
    raw = raw_identifiers(week[0])
    assert len(raw) > 1000, "the simulated week names thousands of people"
    records = read_topic(stack.broker.bootstrap, TOPIC_WARNINGS)
    assert len(records) > 20
    token = stack.tokens["dispatcher"]
    http_json("GET", f"{stack.api.url}/clues?limit=50", token=token)  # a view, in the log
    found = {
        TOPIC_WARNINGS: leaks("\n".join((k or b"").decode() + v.decode() for k, v in records), raw),
        "redis": leaks(redis_dump(stack.redis()), raw),
        "worker log": leaks(stack.worker.log_path.read_text(errors="replace"), raw),
        "api log": leaks(stack.api.log_path.read_text(errors="replace"), raw),
        "worker /metrics": leaks(page(f"{stack.worker.url}/metrics"), raw),
        "api /metrics": leaks(page(f"{stack.api.url}/metrics", token), raw),
    }
    assert {where: sorted(ids)[:5] for where, ids in found.items() if ids} == {}


def test_the_identity_view_opens_the_originals_for_a_supervisor_only(stack, replayed, week):
    raw = raw_identifiers(week[0])
    token = stack.tokens["dispatcher"]
    items = http_json("GET", f"{stack.api.url}/clues?limit=200", token=token)["items"]
    # of the week's people (other tests of the stack add clues of their own people)
    originals = []
    for personal in [c for c in items if c["details"]["entity"]["kind"] in PERSONAL_KINDS][:20]:
        masked_id = personal["details"]["entity"]["id"]
        assert masked_id.startswith("pid-") and "sealed" not in personal["details"]
        url = f"{stack.api.url}/clues/{personal['id']}/identity"
        opened = http_json("GET", url, token=token)
        original = opened["details"]["entity"]["id"]
        assert not original.startswith("pid-") and "sealed" not in opened["details"]
        originals.append(original)
    assert set(originals) & raw, originals
    req = urllib.request.Request(url)
    req.add_header("Authorization", f"Bearer {stack.tokens['inspector-9']}")  # not its holder
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 403


def test_a_dismissal_names_nobody_on_its_way_to_the_detector_that_learns_it(stack, replayed, week):
    """The clue of a detector's warning, keyed by a pseudonymised official, is dismissed
    through the API: the verdict reaches the shard holding the official's state and is
    learned, and neither clue.dispositions nor risk.verdicts names the official."""
    raw = raw_identifiers(week[0])
    api, centre, inspector = stack.api.url, stack.tokens["dispatcher"], stack.tokens["inspector-9"]
    page = http_json("GET", f"{api}/clues?status=new&rule={DETECTOR_RULE}&limit=50", token=centre)
    assert page["items"], f"the week should leave open {DETECTOR_RULE} clues"
    clue = page["items"][0]
    assert clue["key"].startswith("pid-"), "the clue is keyed by a pseudonym"
    learned = metric_sum(
        stack.worker.url, "riskloop_rule_stats", rule=DETECTOR_RULE, stat="learned"
    )

    url = f"{api}/clues/{clue['id']}"
    http_json("POST", f"{url}/dispatch", {}, token=centre)
    http_json("POST", f"{url}/claim", {}, token=inspector)
    body = {"code": "false_positive", "sub_reason": "expected_behaviour", "note": "usual"}
    assert http_json("POST", f"{url}/dispose", body, token=inspector)["status"] == "disposed"

    wait_for(
        lambda: (
            metric_sum(stack.worker.url, "riskloop_rule_stats", rule=DETECTOR_RULE, stat="learned")
            >= learned + 1
        ),
        60,
        "the detector to learn the dismissal of a pseudonymised clue",
    )
    found = {}
    for topic in (TOPIC_DISPOSITIONS, TOPIC_VERDICTS):
        records = read_topic(stack.broker.bootstrap, topic)
        assert any(clue["key"].encode() in v for _, v in records), topic
        found[topic] = leaks("\n".join((k or b"").decode() + v.decode() for k, v in records), raw)
    assert {where: sorted(ids)[:5] for where, ids in found.items() if ids} == {}
