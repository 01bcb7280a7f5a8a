"""HTML reports: opened under a capability, sandboxed on our origin, or on PAGES_URL's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import pytest

from tests.support.pages import ALICE_TOKEN, PRIVATE, PUBLIC, pages_server, signed_in
from tests.support.processes import ServerProcess

FILE = f"/{PRIVATE}/-/jobs/7/artifacts/file/coverage/index.html"
REPORT_LINK = re.compile(r'href="([^"]*/-/artifact-reports/[^"]+)"')


def report_url(client: httpx2.Client, page: str = FILE) -> str:
    found = REPORT_LINK.search(client.get(page).text)
    assert found is not None, "no report link"
    return found.group(1)


@pytest.fixture
def alice(web: httpx2.Client) -> httpx2.Client:
    return signed_in(web, ALICE_TOKEN)


def test_an_html_file_links_to_its_report(alice: httpx2.Client) -> None:
    url = report_url(alice)

    assert re.fullmatch(r"/-/artifact-reports/[A-Za-z0-9_.-]+/coverage/index\.html", url)


def test_the_report_is_sandboxed_with_scripts_and_no_same_origin(
    alice: httpx2.Client, site: ServerProcess
) -> None:
    url = report_url(alice)

    # No cookie at all: the capability alone authorizes it.
    response = httpx2.get(f"{site.base_url}{url}")

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == "sandbox allow-scripts"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-disposition"].startswith("inline")
    assert '<h1 id="title">Coverage report</h1>' in response.text


def test_the_reports_relative_links_resolve_under_the_capability(
    alice: httpx2.Client, site: ServerProcess
) -> None:
    prefix = report_url(alice).rsplit("/", 1)[0]

    style = httpx2.get(f"{site.base_url}{prefix}/style.css")
    script = httpx2.get(f"{site.base_url}{prefix}/app.js")

    assert (style.status_code, script.status_code) == (200, 200)
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert "document.cookie" in script.text


def test_the_capability_reaches_nothing_outside_its_folder(
    alice: httpx2.Client, site: ServerProcess
) -> None:
    capability = report_url(alice).split("/")[3]

    outside = httpx2.get(f"{site.base_url}/-/artifact-reports/{capability}/README.md")
    climbing = httpx2.get(f"{site.base_url}/-/artifact-reports/{capability}/coverage/../README.md")
    forged = httpx2.get(f"{site.base_url}/-/artifact-reports/{capability[:-3]}xyz/coverage/app.js")

    assert outside.status_code == 404
    assert 400 <= climbing.status_code < 500
    assert forged.status_code == 404


def test_the_report_route_never_reads_the_session(alice: httpx2.Client) -> None:
    # Signed in, but the capability is forged: the cookie does not stand in for it.
    response = alice.get("/-/artifact-reports/forged/coverage/index.html")

    assert response.status_code == 404


def test_an_anonymous_reader_of_a_public_project_gets_a_capability(web: httpx2.Client) -> None:
    page = web.get(f"/{PUBLIC}/-/jobs/21/artifacts/file/index.txt")

    assert page.status_code == 200
    assert REPORT_LINK.search(page.text) is None  # only HTML files are reports


@pytest.fixture(scope="module")
def pages_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("pages-origin")
    with pages_server(directory, ARTIFACTSVC_PAGES_URL="http://pages.test") as server:
        yield server


def test_with_pages_url_the_report_opens_on_the_other_origin(pages_site: ServerProcess) -> None:
    with httpx2.Client(base_url=pages_site.base_url) as client:
        signed_in(client, ALICE_TOKEN)
        url = report_url(client)

        assert url.startswith("http://pages.test/-/artifact-reports/")
        path = url.removeprefix("http://pages.test")
        here = client.get(path)  # on our own origin: never
        there = httpx2.get(f"{pages_site.base_url}{path}", headers={"Host": "pages.test"})

    assert here.status_code == 404
    assert there.status_code == 200
    assert "Coverage report" in there.text
    assert "allow-same-origin" in there.headers["content-security-policy"]


def test_the_pages_origin_serves_no_page_and_no_sign_in(pages_site: ServerProcess) -> None:
    pages = {"Host": "pages.test"}
    with httpx2.Client(base_url=pages_site.base_url, headers=pages) as client:
        job = client.get(f"/{PUBLIC}/-/jobs/21")
        form = client.get("/users/sign_in")
        sign_in = client.post("/users/sign_in", data={"personal_access_token": ALICE_TOKEN})

    assert (job.status_code, form.status_code, sign_in.status_code) == (404, 404, 404)
    assert "set-cookie" not in sign_in.headers
