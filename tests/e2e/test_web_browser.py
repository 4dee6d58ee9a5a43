"""Both roles in a real browser (Playwright driving Debian's chromium) against a real uvicorn server.

Reviewer: log in, claim a call, listen (click a transcript line: the player seeks), override the score, resolve and
land on the next open item; claim and resolve that one with the keyboard; a second reviewer cannot claim the same
call. Department owner: log in to her findings inbox, open a finding, download its outreach CSV, re-route a
misrouted finding with a reason, open a customer and the digest inside the app. Screenshots go to a temporary
folder, or to docs/screenshots/ with VOC_UPDATE_SCREENSHOTS=1 (so ordinary test runs leave the tree alone)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")

from tests.helpers import chromium_binary  # noqa: E402
from tests.web_seed import PASSWORD, seed  # noqa: E402
from voc.store.review import ReviewQueue  # noqa: E402
from voc.web.server import BackgroundServer  # noqa: E402

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    exe = chromium_binary()
    if exe is None:
        pytest.skip("no chromium binary found (apt-get install -y chromium, or set VOC_CHROMIUM=/path/to/chrome)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # one store and server for both flows (the reviewer's touches review items, the owner's routes): one seed less
    s = seed(tmp_path_factory.mktemp("site"))
    with BackgroundServer(s.settings, s.store) as srv:
        yield s, srv.url
    s.store.close()


@pytest.fixture()
def shot(tmp_path):
    folder = DOCS_SCREENSHOTS if os.environ.get("VOC_UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"))
        assert (folder / f"{name}.png").stat().st_size < 300_000  # keep docs/ light

    return take


def wait_js(page, expression: str, timeout_s: float = 10.0) -> None:
    """Poll a JS expression (page.wait_for_function evaluates strings, which the app's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.05)


def log_in(browser, url: str, name: str, landing: str = "/queue"):
    ctx = browser.new_context(viewport={"width": 1280, "height": 760}, locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{url}/")
    assert "/login" in page.url  # not logged in: sent to the form
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{landing}")  # each role lands on its own work list
    return ctx, page


def test_reviewer_claims_listens_overrides_and_resolves(browser, site, shot):
    s, url = site
    item, call = s.items["C100"], s.calls["C100"]
    alice_ctx, alice = log_in(browser, url, "alice")
    bob_ctx, bob = log_in(browser, url, "bob")
    try:
        # both see the open call; alice is quicker
        assert bob.locator(f"tr[data-item='{item}'] button", has_text="Claim").count() == 1
        shot(alice, "queue")
        alice.click(f"tr[data-item='{item}'] button")
        alice.wait_for_url(f"{url}/calls/{call}")
        assert alice.inner_text("#review-status") == "claimed"

        # bob's page is stale: his claim is refused
        bob.click(f"tr[data-item='{item}'] button")
        assert "already claimed by another reviewer" in bob.inner_text("main")
        shot(bob, "claim-refused")
        assert ReviewQueue(s.store.db).get(item).assignee == "alice"

        # listen: the recording loads through the authenticated endpoint, a click on a line seeks there
        wait_js(alice, "document.getElementById('player').readyState >= 1")
        assert alice.evaluate("document.getElementById('player').duration") == pytest.approx(8.0, abs=0.1)
        assert alice.evaluate("document.getElementById('player').currentTime") == 0
        alice.click("#u2 .text")
        wait_js(alice, "document.getElementById('player').currentTime >= 4.0")
        wait_js(alice, "document.querySelector('#u2').classList.contains('current')")
        assert alice.locator("#u2 mark.ev").inner_text() == "非常抱歉"  # the empathy rule's evidence
        alice.click("a.seek[data-idx='0']")  # evidence link of the greeting rule: back to 0:00
        wait_js(alice, "document.getElementById('player').currentTime < 1.5")
        wait_js(alice, "document.querySelector('#u0').classList.contains('current')")
        alice.evaluate("document.getElementById('player').pause()")
        shot(alice, "call")

        # override the score with a comment, then resolve
        alice.fill("#score_override", "85")
        alice.fill("#comment", "开场和致歉都到位，结束语缺失")
        alice.click("#save-override")
        alice.wait_for_selector("text=override saved")
        assert alice.inner_text("#override-score") == "85.0"
        alice.click("#resolve")
        alice.wait_for_selector("text=this is the next open item")  # resolved: on to the next open item
        done = ReviewQueue(s.store.db).get(item)
        assert (done.status, done.assignee, done.score_override, done.comment) == (
            "resolved", "alice", 85.0, "开场和致歉都到位，结束语缺失")
        second = alice.url.rsplit("/", 1)[1]
        assert second != call and alice.inner_text("#review-status") == "open"
        shot(alice, "next-item")

        # the keyboard: c claims, r resolves (and moves on again)
        alice.keyboard.press("c")
        alice.wait_for_selector("#review-status.claimed")
        alice.keyboard.press("r")
        alice.wait_for_selector("text=this is the next open item")
        assert {i.interaction_id: i.status for i in ReviewQueue(s.store.db).items()}[second] == "resolved"
        assert alice.url.rsplit("/", 1)[1] not in (call, second)
        # from the queue: c claims the top open item and opens it
        alice.goto(f"{url}/queue")
        top = alice.locator("#queue tbody tr[data-item]:has(button)").first.get_attribute("data-item")
        alice.keyboard.press("c")
        alice.wait_for_selector("#review-status.claimed")
        assert ReviewQueue(s.store.db).get(int(top)).assignee == "alice"

        # the topic page draws its trend chart
        alice.goto(f"{url}/topics/t0001")
        assert alice.locator("svg.trend circle").count() == 2
        shot(alice, "topic")
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_owner_reroutes_a_finding_and_downloads_outreach(browser, site, shot):
    s, url = site
    ctx, olga = log_in(browser, url, "olga", landing="/findings")
    try:
        rows = olga.locator("#findings tr[data-finding]")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.finding)")) == ["f-t0001", "f-t0002"]
        shot(olga, "owner-inbox")

        # the leak finding: its contacts by their call ids, its outreach list as a CSV download
        olga.click("tr[data-finding='f-t0001'] a >> nth=0")
        olga.wait_for_url(f"{url}/findings/f-t0001")
        assert olga.locator("#contacts td").first.inner_text().startswith("C100")
        shot(olga, "owner-finding")
        with olga.expect_download() as got:
            olga.click("#outreach-csv")
        data = Path(got.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "U9001" in data.decode("utf-8-sig")

        # the delivery finding is not hers: re-route it to logistics with a reason
        olga.goto(f"{url}/findings/f-t0002")
        olga.select_option("#reroute-dept", "logistics")
        olga.fill("#reroute-reason", "快递没到是物流的事")
        olga.click("#reroute")
        olga.wait_for_url(f"{url}/findings")
        assert "f-t0002 → logistics" in olga.inner_text("main")
        assert olga.locator("tr[data-finding='f-t0002']").count() == 0
        shot(olga, "owner-rerouted")
        [route] = s.store.routes(["f-t0002"])
        assert route.department == "logistics" and "快递没到是物流的事" in route.reason

        # a customer, and the digest inside the app with its ids linked
        olga.goto(f"{url}/customers/U0001")
        assert "C101 → C100" in olga.inner_text("#chains")
        shot(olga, "customer")
        olga.goto(f"{url}/digests/2026-11-20/view/after_sales")
        olga.click("text=t0001 >> nth=0")
        olga.wait_for_url(f"{url}/topics/t0001")
    finally:
        ctx.close()
