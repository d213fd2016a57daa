"""The inspector and supervisor pages hold under their own security policy, in real headless
Chromium (Debian ``chromium`` driven by Playwright) against a live API on real Redis: the
headers are sent, nothing the pages need is blocked by them, an evidence address that is not
http(s) is refused by the API and never drawn as a link, long unbroken text wraps inside the
viewport, the disposition note is shown and "mine" lists the clues the inspector holds."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, LiveApi, make_warning

from clues.model import clue_id
from clues.page import supervisor_link

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGES = ("/ui", "/ui/inspector.js", "/ui/inspector.css", "/ui/supervisor", "/ui/supervisor.js",
         "/ui/supervisor.css", "/ui/meta.json")  # fmt: skip
T = TypeVar("T")
LONG = "Q" * 300  # one unbroken 300-character word
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="apt-get install chromium"
)


def run_aside(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a thread of its own (Playwright's sync API holds this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


def seed(api: LiveApi, fingerprint: str, steps: tuple[str, ...] = (), **warning: Any) -> str:
    """One clue of alice's department dispatched now, then ``steps`` taken by alice; its id."""

    async def run() -> str:
        client = aioredis.from_url(api.redis_url, decode_responses=True)
        now = int(time.time() * 1000)
        try:
            store = api.store(client)
            await store.upsert_warnings(
                [make_warning(f"w-{fingerprint}", fingerprint, now, **warning)]
            )
            cid = clue_id(fingerprint)
            await store.transition(cid, "dispatch", CENTRE, now)
            for step in steps:
                await store.transition(cid, step, ALICE, now + 1)
            return cid
        finally:
            await client.aclose()

    return run_aside(run())


def store_evidence(api: LiveApi, cid: str, uri: str) -> None:
    """Write an evidence address straight into the store, past the API's check (as an older
    release, or a script, may have done)."""

    async def run() -> None:
        client = aioredis.from_url(api.redis_url, decode_responses=True)
        try:
            refs = [{"uri": uri, "name": "stored"}]
            await api.store(client).transition(cid, "evidence", ALICE, int(time.time() * 1000),
                                               {"evidence_refs": refs})  # fmt: skip
        finally:
            await client.aclose()

    run_aside(run())


class Console:
    """What the page wrote to the console as an error (a policy violation is one), and its
    uncaught exceptions; the browser's own try for a /favicon.ico the API has not is left out."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self.console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def console(self, m: Any) -> None:
        if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"{m.text} ({m.location.get('url')})")


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def sign_in(browser: Any, api: LiveApi, token: str = "t-alice") -> tuple[Any, Console]:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    console = Console(page)
    page.goto(f"{api.url}/ui")
    page.fill("#token", token)
    page.click("text=Sign in")
    expect(page.get_by_test_id("whoami")).to_contain_text(token.removeprefix("t-"))
    return page, console


def test_every_page_answer_carries_the_security_headers(live_api: LiveApi) -> None:
    for path in PAGES:
        h = httpx.get(f"{live_api.url}{path}").headers
        csp = {d.split()[0]: d.split()[1:] for d in h["content-security-policy"].split("; ")}
        assert csp["default-src"] == ["'none'"], path
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"], path
        assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"], path
        assert h["x-frame-options"] == "DENY", path
        assert h["x-content-type-options"] == "nosniff", path
        assert h["referrer-policy"] == "no-referrer", path


@needs_chromium
def test_both_pages_work_under_their_policy_with_no_violation(
    live_api: LiveApi, browser: Any
) -> None:
    from playwright.sync_api import expect

    cid = seed(live_api, "fp-csp")
    page, console = sign_in(browser, live_api)
    row = page.locator(f"[data-testid=clue-row][data-id='{cid}']")
    row.click()
    expect(page.get_by_test_id("detail")).to_contain_text(cid)
    page.click("[data-testid=actions] button[data-action=claim]")
    expect(page.locator("#message")).to_contain_text("is now in verification")
    # the style sheet applied: the header is drawn in the page's dark blue
    assert page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor") == (
        "rgb(29, 53, 87)"
    )

    sv = browser.new_page()
    sv_console = Console(sv)
    sv.goto(supervisor_link(live_api.url, "t-sam"))
    expect(sv.get_by_test_id("whoami")).to_contain_text("sam (supervisor)")
    expect(sv.get_by_test_id("chart-daily").locator("rect[data-day]")).to_have_count(30)
    swatch = sv.eval_on_selector(".swatch.this", "e => getComputedStyle(e).backgroundColor")
    assert swatch == "rgb(69, 123, 157)"
    assert console.errors == [] and sv_console.errors == []


@pytest.mark.parametrize(
    "uri", ["javascript:alert(document.cookie)", "data:text/html,<b>x</b>", "file:///etc/passwd"]
)
def test_an_evidence_address_that_is_not_http_is_refused_with_why(
    live_api: LiveApi, uri: str
) -> None:
    cid = seed(live_api, f"fp-uri-{uri[:4]}", ("claim",))
    auth = {"Authorization": "Bearer t-alice"}
    reply = httpx.post(f"{live_api.url}/clues/{cid}/evidence", headers=auth,
                       json={"evidence_refs": [{"uri": uri}]})  # fmt: skip
    assert reply.status_code == 422
    scheme = uri.split(":")[0]
    assert f"scheme '{scheme}:' is refused" in reply.json()["detail"]
    assert "http://" in reply.json()["detail"]
    clue = httpx.get(f"{live_api.url}/clues/{cid}", headers=auth).json()
    assert clue["evidence_refs"] == []  # nothing stored
    ok = httpx.post(f"{live_api.url}/clues/{cid}/evidence", headers=auth,
                    json={"evidence_refs": [{"uri": "https://files.example/a.pdf"}]})  # fmt: skip
    assert ok.status_code == 200


@needs_chromium
def test_a_stored_address_is_a_link_only_when_it_is_http(live_api: LiveApi, browser: Any) -> None:
    from playwright.sync_api import expect

    cid = seed(live_api, "fp-stored", ("claim",))
    store_evidence(live_api, cid, "javascript:alert(1)")
    store_evidence(live_api, cid, "https://files.example/site/photo-9.jpg")
    page, console = sign_in(browser, live_api)
    page.goto(f"{live_api.url}/ui#clue={cid}")
    page.reload()
    evidence = page.get_by_test_id("evidence")
    expect(evidence.locator("li")).to_have_count(2)
    expect(evidence.get_by_test_id("evidence-text")).to_have_text("javascript:alert(1)")
    links = evidence.locator("a")
    expect(links).to_have_count(1)
    assert links.get_attribute("href") == "https://files.example/site/photo-9.jpg"
    assert console.errors == []


@needs_chromium
def test_a_300_character_word_wraps_inside_the_viewport(live_api: LiveApi, browser: Any) -> None:
    from playwright.sync_api import expect

    cid = seed(live_api, "fp-long", ("claim",), title=LONG)
    auth = {"Authorization": "Bearer t-alice"}
    for path, body in (
        ("comments", {"text": LONG}),
        (
            "evidence",
            {"evidence_refs": [{"uri": f"https://files.example/{LONG}", "name": LONG[:200]}]},
        ),
    ):
        assert httpx.post(f"{live_api.url}/clues/{cid}/{path}", headers=auth, json=body).is_success
    page, console = sign_in(browser, live_api)
    page.select_option("#f-status", "claimed,suspended,investigating")
    row = page.locator(f"[data-testid=clue-row][data-id='{cid}']")
    expect(row).to_contain_text(LONG)
    row.click()
    expect(page.get_by_test_id("audit")).to_contain_text(LONG)
    expect(page.get_by_test_id("detail")).to_contain_text(f"https://files.example/{LONG}")
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px viewport"
    assert console.errors == []


@needs_chromium
def test_the_disposition_note_is_shown_on_the_clue(live_api: LiveApi, browser: Any) -> None:
    from playwright.sync_api import expect

    cid = seed(live_api, "fp-note", ("claim",))
    page, _ = sign_in(browser, live_api)
    page.select_option("#f-status", "claimed,suspended,investigating")
    page.locator(f"[data-testid=clue-row][data-id='{cid}']").click()
    page.click("[data-testid=actions] button[data-action=dispose]")
    form = page.get_by_test_id("form-dispose")
    form.locator("select[name=code]").select_option("rectified")
    form.locator("input[name=evidence_uri]").fill("https://files.example/site/photo-8.jpg")
    form.locator("input[name=note]").fill("licence displayed at the counter now")
    form.locator("button[type=submit]").click()
    expect(page.locator("#message")).to_contain_text("is now disposed")
    expect(page.get_by_test_id("note")).to_have_text("licence displayed at the counter now")


@needs_chromium
def test_mine_lists_the_clues_the_inspector_holds(live_api: LiveApi, browser: Any) -> None:
    from playwright.sync_api import expect

    held = seed(live_api, "fp-mine-held", ("claim",))
    suspended = seed(live_api, "fp-mine-susp", ("claim",))
    waiting = seed(live_api, "fp-mine-waiting")  # dispatched, held by nobody
    auth = {"Authorization": "Bearer t-alice"}
    body = {"reason_code": "awaiting_party"}
    httpx.post(f"{live_api.url}/clues/{suspended}/suspend", headers=auth, json=body)
    page, _ = sign_in(browser, live_api)
    expect(page.locator(f"[data-testid=clue-row][data-id='{waiting}']")).to_have_count(1)

    page.check("#f-mine")
    for cid in (held, suspended):
        expect(page.locator(f"[data-testid=clue-row][data-id='{cid}']")).to_have_count(1)
    expect(page.locator(f"[data-testid=clue-row][data-id='{waiting}']")).to_have_count(0)
    for name in page.locator("[data-testid=clue-row] td:nth-child(5)").all_inner_texts():
        assert name == "alice"


def test_every_api_answer_is_nosniff_and_json_is_never_cached(live_api: LiveApi) -> None:
    auth = {"Authorization": "Bearer t-alice"}
    answers = {
        "a list": httpx.get(f"{live_api.url}/clues", headers=auth),
        "a refusal": httpx.get(f"{live_api.url}/clues"),
        "a bad id": httpx.get(f"{live_api.url}/clues/not-an-id", headers=auth),
        "the schema": httpx.get(f"{live_api.url}/openapi.json"),
    }
    assert [a.status_code for a in answers.values()] == [200, 401, 422, 200]
    for what, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["cache-control"] == "no-store", what


@needs_chromium
def test_the_api_docs_page_draws_every_route_from_the_api_alone(
    live_api: LiveApi, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(live_api.url) else elsewhere.append(r.url),
    )
    console = Console(page)
    page.goto(f"{live_api.url}/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=20_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert "/clues" in paths and "/whoami" in paths, sorted(paths)
    assert elsewhere == [], "the docs page fetched from another host"
    assert console.errors == []
