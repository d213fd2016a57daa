"""A verdict on a pseudonymised clue carries its warning's seal to clue.dispositions, so the
worker can open the key its detector keeps the state under."""

from __future__ import annotations

import pytest
from clue_factories import T0, dispose_clue, make_warning

from clues.model import clue_id
from clues.store import ClueStore
from envelope.events import Disposition
from envelope.pseudonym import SEALED, Masker

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
RAW_KEY = "region=330106|applicant=cit-0eedc8ad0e2b"


async def _disposition(store: ClueStore, redis_client, prefix: str) -> Disposition:
    outbox = [f for _, f in await redis_client.xrange(f"{prefix}:outbox")]
    (entry,) = [f for f in outbox if f["kind"] == "disposition"]
    return Disposition.from_json(entry["value"])


async def test_the_disposition_of_a_sealed_clue_opens_to_the_rules_key(
    store: ClueStore, redis_client, prefix: str
) -> None:
    worker = Masker(b"the worker's key of 16+ bytes")
    masked = worker.mask_warning(make_warning("w1", key=RAW_KEY))
    assert masked.key != RAW_KEY
    await store.upsert_warnings([masked])
    await dispose_clue(store, clue_id("fp-1"), "false_positive", T0)

    d = await _disposition(store, redis_client, prefix)
    assert d.key == masked.key and "cit-0eedc8ad0e2b" not in d.to_json().decode()
    assert worker.original_key(d.sealed) == RAW_KEY
    assert Masker(b"somebody else's key").original_key(d.sealed) is None


async def test_a_clue_without_a_seal_gives_a_disposition_without_one(
    store: ClueStore, redis_client, prefix: str
) -> None:
    plain = make_warning("w1", key="region=330106")
    assert SEALED not in plain.details
    await store.upsert_warnings([plain])
    await dispose_clue(store, clue_id("fp-1"), "false_positive", T0)

    d = await _disposition(store, redis_client, prefix)
    assert (d.key, d.sealed) == ("region=330106", "")
    assert "sealed" not in d.to_dict()
