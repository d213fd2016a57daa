"""What inspectors write on a clue (labels, evidence uri and name, an extension's reason, a case
reference, notes) is shown with phone and ID numbers pseudonymised in every clue view, as the
audit entries of the same steps are, and in clear only in the audited identity view. Through
the API over ASGI on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import T0, make_warning
from fastapi import FastAPI

from clues.api import create_app
from clues.model import clue_id
from clues.privacy import Masker
from clues.store import ClueStore
from envelope.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = T0 + 3_600_000
KEY = "a key of sixteen bytes"
PHONE, ID_NUMBER = "13812345678", "11010119900307777X"
HASH = "13900139000" + "a" * 53  # shaped like a phone number inside: a hash, left as it is
TOKENS = "t-alice=alice:inspector:market-supervision:3301 t-sam=sam:supervisor:*:*"
ALICE, SAM = ({"Authorization": f"Bearer t-{n}"} for n in ("alice", "sam"))


@pytest.fixture
async def client(redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(api_bootstrap_tokens=TOKENS, pseudonym_key=KEY)
    app: FastAPI = create_app(
        settings, redis_client, prefix=prefix, clock=lambda: NOW, publish=False
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
            yield c


def written(field: str) -> str:
    return f"{field} {PHONE} {ID_NUMBER}"


async def steps(client: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    """Every step that writes free text, with a phone and an ID number in each text."""
    evidence = [
        {"uri": f"https://files.example/{PHONE}/{ID_NUMBER}.pdf", "name": written("name")},
        {"uri": "file:///site/photo.jpg", "name": "photo", "sha256": HASH},
    ]
    calls: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("dispatch", SAM, {"note": written("dispatch note")}),
        ("claim", ALICE, {}),
        ("labels", ALICE, {"add": [PHONE, ID_NUMBER, "site-visit"]}),
        ("evidence", ALICE, {"evidence_refs": evidence}),
        ("escalate", ALICE, {"case_ref": written("case"), "note": written("escalate note")}),
        ("extension", ALICE, {"days": 3, "reason": written("extension reason")}),
        ("dispose", ALICE, {"code": "confirmed_violation", "note": written("verdict note"),
                            "evidence_refs": evidence[:1]}),
    ]  # fmt: skip
    answers = []
    for action, who, body in calls:
        r = await client.post(f"/clues/{cid}/{action}", headers=who, json=body)
        assert r.status_code == 200, (action, r.text)
        answers.append(r.json())
    return answers


async def test_free_text_is_pseudonymised_in_every_clue_view_but_the_identity_view(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings([make_warning("w1", fingerprint="fp-1", ts_ms=T0)])
    cid = clue_id("fp-1")

    answers = await steps(client, cid)
    detail = (await client.get(f"/clues/{cid}", headers=ALICE)).json()
    listed = (await client.get("/clues", headers=SAM)).json()["items"]
    trail = (await client.get(f"/clues/{cid}/audit", headers=SAM)).json()
    shown = (await client.get(f"/clues/{cid}/identity", headers=ALICE)).json()

    for view in (*answers, detail, *listed, trail):
        assert PHONE not in str(view) and ID_NUMBER not in str(view), view
    m = Masker(KEY.encode())
    phone, id_number = m.pseudonym(PHONE), m.pseudonym(ID_NUMBER)
    assert set(detail["labels"]) == {phone, id_number, "site-visit"}
    assert detail["case_ref"] == f"case {phone} {id_number}"
    assert detail["ext_reason"] == f"extension reason {phone} {id_number}"
    assert detail["note"] == f"verdict note {phone} {id_number}"
    refs = {r["name"]: r for r in detail["evidence_refs"]}
    assert refs[f"name {phone} {id_number}"]["uri"] == (
        f"https://files.example/{phone}/{id_number}.pdf"
    )
    assert refs["photo"]["sha256"] == HASH
    assert f"extension reason {phone} {id_number}" in {e["reason"] for e in trail}

    assert {PHONE, ID_NUMBER} <= set(shown["labels"])
    assert shown["case_ref"] == written("case") and shown["note"] == written("verdict note")
    assert shown["ext_reason"] == written("extension reason")
    assert written("name") in {r["name"] for r in shown["evidence_refs"]}
