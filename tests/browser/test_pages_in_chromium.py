"""The pages in a real browser: links followed, a sign-in, and a hostile report that gets
nothing of the signed-in user. Nothing is downloaded (downloads do not work here)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from artifactsvc.web.session import COOKIE
from tests.support.browser import launch
from tests.support.pages import ALICE_TOKEN, PRIVATE, PUBLIC, ROOT_TOKEN, pages_server
from tests.support.processes import ServerProcess

PAGES_HOST = "pages.test"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    found = browser.new_context()
    yield found
    found.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    found = context.new_page()
    found.set_default_timeout(15_000)
    return found


def web_url(site: ServerProcess, project: str, job_id: int) -> str:
    response = httpx2.get(
        f"{site.base_url}/api/v4/projects/{project.replace('/', '%2F')}/jobs/{job_id}",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
    )
    url: str = response.json()["web_url"]
    return url


def sign_in_here(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_a_public_jobs_web_url_opens_its_page(site: ServerProcess, page: Page) -> None:
    page.goto(web_url(site, PUBLIC, 21))

    expect(page.locator("h1")).to_contain_text("pages")
    page.click("text=Browse")
    expect(page.locator("table.entries")).to_contain_text("index.txt")


def test_sign_in_then_browse_a_folder_and_back_by_breadcrumb(
    site: ServerProcess, page: Page, context: BrowserContext
) -> None:
    page.goto(web_url(site, PRIVATE, 7))
    expect(page.locator("h1")).to_have_text("Sign in")
    sign_in_here(page, ALICE_TOKEN)

    expect(page).to_have_url(f"{site.base_url}/{PRIVATE}/-/jobs/7")
    expect(page.locator("h1")).to_contain_text("build")
    assert [c["name"] for c in context.cookies()] == [COOKIE]
    expect(page.locator("details[data-section=step_script]")).not_to_have_attribute("open", "")

    page.click("a.button:text('Browse')")
    page.click("tr.folder >> text=docs/")
    expect(page.locator("h1")).to_contain_text("docs/")
    page.click("tr.folder >> text=deep/")
    expect(page.locator("table.entries")).to_contain_text("note.txt")
    page.click(".crumbs >> text=artifacts")
    expect(page).to_have_url(f"{site.base_url}/{PRIVATE}/-/jobs/7/artifacts/browse")

    page.click("tr.file >> text=README.md")
    expect(page.locator("pre.code .line").first).to_contain_text("1# Build output")
    page.go_back()
    page.click("tr.folder >> text=images/")
    page.click("tr.file >> text=logo.png")
    image = page.locator(".preview img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 24


def test_a_report_script_gets_neither_the_cookie_nor_the_session(
    site: ServerProcess, page: Page, context: BrowserContext
) -> None:
    page.goto(f"{site.base_url}/users/sign_in")
    sign_in_here(page, ALICE_TOKEN)
    expect(page.locator("h1")).to_have_text("Signed in")
    page.goto(f"{site.base_url}/{PRIVATE}/-/jobs/7/artifacts/file/coverage/index.html")

    page.click("text=Open report")

    expect(page.locator("#title")).to_have_text("Coverage report")
    for probe in ("#cookie", "#api", "#page"):
        expect(page.locator(probe)).not_to_have_text("pending")
    cookie = page.inner_text("#cookie")
    api = page.inner_text("#api")
    job_page = page.inner_text("#page")
    # An opaque origin: no cookie to read, and what its requests get is an anonymous answer
    # or none at all.
    assert cookie in ("cookie:[]", "cookie-error:SecurityError"), cookie
    assert api in ("api-status:401", "api-failed:TypeError"), api
    assert job_page.startswith("page-failed:") or (
        job_page.startswith("page-status:") and not job_page.endswith(":signed-in")
    ), job_page
    # The style sheet, a relative link under the capability, applied.
    colour = page.locator("body").evaluate("b => getComputedStyle(b).color")
    assert colour == "rgb(17, 34, 51)"
    # The session is still there for our own pages.
    assert COOKIE in {c["name"] for c in context.cookies()}


@pytest.fixture(scope="module")
def pages_origin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("browser-pages-origin")
    with pages_server(directory, ARTIFACTSVC_PAGES_URL=f"http://{PAGES_HOST}") as server:
        yield server


def test_with_pages_url_a_report_runs_on_its_own_origin_without_the_session(
    pages_origin_site: ServerProcess, browser: Browser
) -> None:
    base = pages_origin_site.base_url
    port = base.rsplit(":", 1)[1]
    # pages.test is the service too: this Chromium resolves it to the server's loopback port.
    rule = f"--host-resolver-rules=MAP {PAGES_HOST}:80 127.0.0.1:{port}"
    own = launch(browser.browser_type, [rule])
    try:
        context = own.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/users/sign_in")
        sign_in_here(page, ALICE_TOKEN)
        page.goto(f"{base}/{PRIVATE}/-/jobs/7/artifacts/file/coverage/index.html")

        page.click("text=Open report")

        expect(page.locator("#title")).to_have_text("Coverage report")
        assert page.url.startswith(f"http://{PAGES_HOST}/-/artifact-reports/")
        for probe in ("#cookie", "#api", "#page"):
            expect(page.locator(probe)).not_to_have_text("pending")
        assert page.inner_text("#cookie") == "cookie:[]"  # nothing of ours on that origin
        assert page.inner_text("#api") in ("api-status:401", "api-failed:TypeError")
        assert page.inner_text("#page") == "page-status:404"  # no pages on the pages origin
    finally:
        own.close()
