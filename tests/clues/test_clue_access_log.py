"""The API's access log never records a personal identifier: ``riskloop api`` as it runs,
its log read back after requests that carry phone and ID numbers in the query and path."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from clues.access_log import MaskedAccessLog, install
from clues.privacy import Masker
from riskloop.services import ServiceGroup, start_api

PHONE, ID_NUMBER = "13812345678", "110101199003077777"


def test_query_values_that_may_name_a_person_are_pseudonymised() -> None:
    masker = Masker(b"a key of sixteen bytes")
    log = MaskedAccessLog(masker)

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "h11_impl.py", 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/clues?assignee={PHONE}&status=new&region={ID_NUMBER}",
         "1.1", 200),
        None,
    )  # fmt: skip
    assert log.filter(record)

    line = record.getMessage()
    assert PHONE not in line and ID_NUMBER not in line
    assert f"assignee={masker.pseudonym(PHONE)}" in line  # the views' pseudonym
    assert f"status=new&region={masker.pseudonym(ID_NUMBER)}" in line
    assert line.endswith('HTTP/1.1" 200')
    assert log.path("/admin/tokens?name=alice") == f"/admin/tokens?name={masker.pseudonym('alice')}"
    assert log.path(f"/clues/{PHONE}/audit") == f"/clues/{masker.pseudonym(PHONE)}/audit"


def test_installing_again_replaces_the_filter() -> None:
    first, second = install(Masker(b"k" * 16)), install(Masker(b"j" * 16))
    filters = logging.getLogger("uvicorn.access").filters
    assert second in filters and first not in filters


@pytest.mark.integration
def test_the_running_api_logs_requests_without_phone_or_id_numbers(
    redis_url: str, services_dir: Path
) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/6"
    redis.Redis.from_url(url).flushdb()
    env = {
        "RISKLOOP_REDIS_URL": url,
        "RISKLOOP_API_BOOTSTRAP_TOKENS": "t-sam=sam:supervisor:*:*",
        "RISKLOOP_PSEUDONYM_KEY": "a key of sixteen bytes",
    }
    with ServiceGroup(services_dir / f"clue-api-log-{uuid.uuid4().hex[:6]}") as group:
        api = group.add(start_api(group.workdir("api"), env))
        auth = {"Authorization": "Bearer t-sam"}
        listed = httpx.get(f"{api.url}/clues", params={"assignee": PHONE}, headers=auth)
        missing = httpx.get(f"{api.url}/clues/{ID_NUMBER}/audit", headers=auth)
        deadline = time.monotonic() + 10
        while "/audit" not in api.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = api.log_path.read_text()
    redis.Redis.from_url(url).flushdb()

    assert listed.status_code == 200 and missing.status_code in (404, 422)
    assert "GET /clues?assignee=pid-" in log and "/audit HTTP/1.1" in log
    assert PHONE not in log and ID_NUMBER not in log
    masker = Masker(b"a key of sixteen bytes")
    assert f"assignee={masker.pseudonym(PHONE)}" in log  # the same key as the views use


def test_a_huge_query_string_is_logged_cut_with_its_length() -> None:
    log = MaskedAccessLog(Masker(b"a key of sixteen bytes"))
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "h11_impl.py", 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/clues?status=" + "x" * 10_000, "1.1", 422), None,
    )  # fmt: skip
    assert log.filter(record)
    line = record.getMessage()
    assert len(line) < 600 and "(10014 chars)" in line and line.endswith('HTTP/1.1" 422')
