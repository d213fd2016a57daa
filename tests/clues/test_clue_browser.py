"""The inspector page in real headless Chromium (Debian ``chromium`` driven by Playwright):
sign in, find the clue in the department queue, claim it, dispose of it, see it leave; a
deadline counted on guessed working days is marked estimated."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from clue_factories import CENTRE, LiveApi, make_warning

from clues.model import clue_id
from clues.workdays import ms_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def seed(api: LiveApi, fingerprint: str = "fp-browser", now: int | None = None) -> str:
    """One clue of alice's department and region dispatched at ``now``; its id."""

    async def run() -> str:
        client = aioredis.from_url(api.redis_url, decode_responses=True)
        at = now or int(time.time() * 1000)
        try:
            store = api.store(client)
            await store.upsert_warnings([make_warning(f"w-{fingerprint}", fingerprint, ts_ms=at)])
            cid = clue_id(fingerprint)
            await store.transition(cid, "dispatch", CENTRE, at)
            return cid
        finally:
            await client.aclose()

    return asyncio.run(run())


@pytest.mark.skipif(shutil.which("chromium") is None, reason="apt-get install chromium")
def test_inspector_claims_and_disposes_a_clue_which_leaves_the_queue(
    live_api: LiveApi, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    cid = seed(live_api)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_api.url}/ui")
            page.fill("#token", "t-alice")
            page.click("text=Sign in")
            expect(page.get_by_test_id("whoami")).to_contain_text("alice (inspector)")
            row = page.locator(f"[data-testid=clue-row][data-id='{cid}']")
            expect(row).to_have_count(1)

            row.click()
            expect(page.get_by_test_id("detail")).to_contain_text("pid-")  # pseudonymised
            page.click("[data-testid=actions] button[data-action=claim]")
            expect(page.locator("#message")).to_contain_text("is now in verification")
            expect(row).to_have_count(0)  # gone from the department queue

            page.select_option("#f-status", "claimed,suspended,investigating")
            expect(row).to_have_count(1)  # in hand
            page.click("[data-testid=actions] button[data-action=dispose]")
            form = page.get_by_test_id("form-dispose")
            form.locator("select[name=code]").select_option("rectified")
            form.locator("input[name=evidence_uri]").fill("https://files.example/site/photo-7.jpg")
            form.locator("input[name=note]").fill("licence displayed now")
            form.locator("button[type=submit]").click()

            expect(page.locator("#message")).to_contain_text("is now disposed")
            expect(row).to_have_count(0)  # left the queue
            audit = page.get_by_test_id("audit")
            expect(audit).to_contain_text("dispose")
            expect(audit).to_contain_text("rectified")
            expect(page.get_by_test_id("actions")).to_contain_text("submit")
            page.screenshot(path=str(tmp_path / "inspector.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="apt-get install chromium")
def test_a_deadline_on_guessed_working_days_is_marked_estimated(live_api: LiveApi) -> None:
    from playwright.sync_api import expect, sync_playwright

    guessed = seed(live_api, "fp-guessed", ms_of(2198, 12, 20, 10))  # a year no data cover
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_api.url}/ui")
            page.fill("#token", "t-alice")
            page.click("text=Sign in")
            row = page.locator(f"[data-testid=clue-row][data-id='{guessed}']")
            expect(row.get_by_test_id("estimated")).to_have_text("estimated")

            row.click()
            badge = page.get_by_test_id("detail").get_by_test_id("estimated")
            expect(badge).to_be_visible()
            assert "holiday calendar" in (badge.get_attribute("title") or "")
        finally:
            browser.close()
