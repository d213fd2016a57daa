"""API fuzzing with schemathesis against the live API's own OpenAPI spec: whatever the input,
no endpoint answers with a server error (5xx), and every answer is one the spec documents
(status, content type, body schema, headers): every check schemathesis has, a bounded run."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis.asyncio as aioredis
import schemathesis
from clue_factories import CENTRE, LiveApi, make_warning
from hypothesis import HealthCheck, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from clues.model import clue_id

pytestmark = [pytest.mark.integration]
EXAMPLES = 6  # per operation and token: about 350 cases


@pytest.fixture(scope="module")
def api_schema(live_api: LiveApi) -> schemathesis.schemas.BaseSchema:
    """The spec as the running API serves it, with a few clues to hit."""

    async def seed() -> None:
        client = aioredis.from_url(live_api.redis_url, decode_responses=True)
        try:
            store = live_api.store(client)
            now = int(time.time() * 1000)
            await store.upsert_warnings([make_warning(f"wf{i}", f"fp-f{i}") for i in range(3)])
            await store.transition(clue_id("fp-f1"), "dispatch", CENTRE, now)
        finally:
            await client.aclose()

    asyncio.run(seed())
    return schemathesis.openapi.from_url(f"{live_api.url}/openapi.json")


HTTP = httpx.Client(timeout=10)  # one client: a new one per request costs ~150 ms (TLS setup)


def send(case: schemathesis.Case, base: str, token: str | None) -> httpx.Response:
    """Send a generated case with httpx (schemathesis's own transport is not used)."""
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    kw = case.as_transport_kwargs(base_url=base, headers=auth)
    data = kw.get("data")
    headers = {k: v for k, v in (kw.get("headers") or {}).items() if token or k != "Authorization"}
    return HTTP.request(
        kw["method"],
        kw["url"],
        headers=headers,
        params=kw.get("params"),
        json=kw.get("json"),
        content=data if isinstance(data, bytes | str) else None,
    )


def test_no_input_makes_the_api_fail_or_answer_off_its_spec(
    api_schema: schemathesis.schemas.BaseSchema, live_api: LiveApi
) -> None:
    base = live_api.url
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    cases = 0
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            nonlocal cases
            for token in ("t-sam", "t-alice"):
                cases += 1
                response = send(case, base, token)
                # A view's period is two bounds the schema cannot relate (``from`` after ``to``
                # is a 422 that says so): for views, every check but "valid data is accepted".
                excluded = [ignored_auth]
                if case.operation.path.startswith("/views/"):
                    excluded.append(positive_data_acceptance)
                try:
                    case.validate_response(response, excluded_checks=excluded)
                except (AssertionError, FailureGroup) as exc:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.query!r} {case.body!r}"
                        f" as {token}: {str(exc)[:400]}"
                    )
            # ignored_auth's own probes need schemathesis's requests transport: sent here
            anonymous = send(case, base, None)
            if case.operation.definition.raw.get("security") and anonymous.status_code != 401:
                failures.append(f"{case.method} {case.formatted_path} without a token"
                                f" -> {anonymous.status_code}")  # fmt: skip

        check()

    print(f"schemathesis: {cases} cases over {len(operations)} operations")
    assert cases >= 200
    assert not failures, "\n".join(failures[:200])
