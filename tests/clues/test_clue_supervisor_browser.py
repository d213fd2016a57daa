"""The supervisor overview in real headless Chromium (Debian ``chromium`` driven by
Playwright): opened from a link carrying the token, it shows a month of warnings by event
day, by district and rule, the red clues with links that open them on the inspector page,
and the recurring officials pseudonymised. A screenshot is kept in the test's folder."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from clue_factories import CENTRE, LiveApi, make_warning

from clues import sla
from clues.model import clue_id
from clues.page import supervisor_link

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DAY_MS = 86_400_000
REGIONS = ("330106", "330108", "330110")
RULES = ("approval-overdue", "hotline-surge", "repeated-submissions")


def seed(api: LiveApi) -> tuple[str, int]:
    """Three weeks of warnings in three districts, an official coming back, two red clues;
    the first red clue's id and the number of warnings."""
    now = int(time.time() * 1000)
    warnings = [
        make_warning(
            f"w-sv-{d}-{i}",
            f"fp-sv-{d}-{i}",
            ts_ms=now - d * DAY_MS,
            region=REGIONS[(d + i) % 3],
            rule_id=RULES[i % 3],
            severity=("medium", "high", "critical")[(d * i) % 3],
        )
        for d in range(21)
        for i in range(1 + d % 4)
    ]
    warnings += [
        make_warning(f"w-off-{d}", "fp-off", ts_ms=now - d * DAY_MS, rule_id="approver-anomaly",
                     key="off-31", title="night approvals by off-31")
        for d in (1, 3, 6)
    ]  # fmt: skip

    async def run() -> str:
        client = aioredis.from_url(api.redis_url, decode_responses=True)
        try:
            store = api.store(client)
            await store.upsert_warnings(warnings)
            for fp in ("fp-sv-20-0", "fp-sv-18-2"):
                await store.transition(clue_id(fp), "dispatch", CENTRE, now - 60 * DAY_MS)
            await sla.tick(store, now)
            return clue_id("fp-sv-20-0")
        finally:
            await client.aclose()

    return asyncio.run(run()), len(warnings)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="apt-get install chromium")
def test_supervisor_sees_the_month_and_opens_a_red_clue_on_the_inspector_page(
    live_api: LiveApi, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    red, total = seed(live_api)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            outside: list[str] = []
            page.on(
                "request",
                lambda r: None if r.url.startswith(live_api.url) else outside.append(r.url),
            )
            page.goto(supervisor_link(live_api.url, "t-sam"))  # as `make demo` prints it
            expect(page.get_by_test_id("whoami")).to_contain_text("sam (supervisor)")
            assert "t-sam" not in page.url  # the token left the address bar

            expect(page.get_by_test_id("kpi-warnings")).to_have_text(f"{total:,}")
            expect(page.get_by_test_id("kpi-red")).to_have_text("2")
            bars = page.get_by_test_id("chart-daily").locator("rect[data-day]")
            expect(bars).to_have_count(30)
            assert int(bars.last.get_attribute("data-value") or 0) > 0  # today counted
            districts = page.get_by_test_id("chart-region").locator("rect[data-name]")
            expect(districts).to_have_count(3)
            expect(page.get_by_test_id("chart-rule")).to_contain_text("approver-anomaly")

            officials = page.get_by_test_id("table-officials")
            expect(officials.get_by_test_id("row")).to_have_count(1)
            expect(officials).to_contain_text("pid-")
            expect(officials).not_to_contain_text("off-31")
            overdue = page.get_by_test_id("table-overdue")
            expect(overdue.get_by_test_id("row")).to_have_count(2)
            page.screenshot(path=str(tmp_path / "supervisor.png"), full_page=True)

            page.fill("#region", "330108")  # one district: every view narrows to it
            page.click("text=Show")
            expect(districts).to_have_count(1)
            expect(districts.first).to_have_attribute("data-name", "330108")
            expect(overdue.get_by_test_id("row")).to_have_count(0)  # its red clues are in 330110
            page.fill("#region", "")
            page.click("text=Show")
            expect(overdue.get_by_test_id("row")).to_have_count(2)

            overdue.get_by_test_id("clue-link").first.click()
            expect(page).to_have_url(f"{live_api.url}/ui#clue={red}")
            expect(page.get_by_test_id("detail")).to_contain_text(red)
            assert outside == []  # no request left the API's host
        finally:
            browser.close()
    print(f"screenshot: {tmp_path / 'supervisor.png'}")
