"""The forms: keep and delete through CSRF-checked posts, with the API's permissions."""

from __future__ import annotations

import httpx2

from tests.support.pages import (
    ALICE_TOKEN,
    DORA_TOKEN,
    PRIVATE,
    RITA_TOKEN,
    ROOT_TOKEN,
    csrf_of,
    same_origin,
    signed_in,
)
from tests.support.processes import ServerProcess

JOB = f"/{PRIVATE}/-/jobs/7"
KEEP_JOB = f"/{PRIVATE}/-/jobs/11"
API_JOB = f"/api/v4/projects/{PRIVATE.replace('/', '%2F')}/jobs/11"


def expiry(site: ServerProcess) -> str | None:
    found = httpx2.get(f"{site.base_url}{API_JOB}", headers={"PRIVATE-TOKEN": ROOT_TOKEN})
    value: str | None = found.json()["artifacts_expire_at"]
    return value


def test_keep_without_or_with_a_wrong_csrf_token_is_refused(
    site: ServerProcess, web: httpx2.Client
) -> None:
    signed_in(web, ALICE_TOKEN)
    before = expiry(site)

    missing = web.post(f"{KEEP_JOB}/artifacts/keep", headers=same_origin(web))
    wrong = web.post(
        f"{KEEP_JOB}/artifacts/keep",
        data={"authenticity_token": "0" * 64},
        headers=same_origin(web),
    )

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "text/html" in missing.headers["content-type"]
    assert before is not None and expiry(site) == before


def test_a_cross_site_keep_is_refused_even_with_the_token(
    site: ServerProcess, web: httpx2.Client
) -> None:
    signed_in(web, ALICE_TOKEN)
    token = csrf_of(web.get(KEEP_JOB).text)
    before = expiry(site)

    response = web.post(
        f"{KEEP_JOB}/artifacts/keep",
        data={"authenticity_token": token},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert expiry(site) == before


def test_a_reporter_may_not_keep(site: ServerProcess, web: httpx2.Client) -> None:
    signed_in(web, RITA_TOKEN)
    token = csrf_of(web.get(KEEP_JOB).text)

    response = web.post(
        f"{KEEP_JOB}/artifacts/keep", data={"authenticity_token": token}, headers=same_origin(web)
    )

    assert response.status_code == 403
    assert expiry(site) is not None


def test_a_read_api_session_reads_but_may_not_post(site: ServerProcess, web: httpx2.Client) -> None:
    signed_in(web, DORA_TOKEN)
    page = web.get(KEEP_JOB)
    assert page.status_code == 200

    response = web.post(
        f"{KEEP_JOB}/artifacts/keep",
        data={"authenticity_token": csrf_of(page.text)},
        headers=same_origin(web),
    )

    assert response.status_code == 403
    assert expiry(site) is not None


def test_keep_is_a_post(web: httpx2.Client) -> None:
    signed_in(web, ALICE_TOKEN)

    response = web.get(f"{KEEP_JOB}/artifacts/keep")

    assert (response.status_code, response.headers["allow"]) == (405, "POST")


def test_a_developer_keeps_the_artifacts_with_the_form(
    site: ServerProcess, web: httpx2.Client
) -> None:
    signed_in(web, ALICE_TOKEN)
    page = web.get(KEEP_JOB).text
    assert "2099-01-01 00:00:00 UTC" in page

    response = web.post(
        f"{KEEP_JOB}/artifacts/keep",
        data={"authenticity_token": csrf_of(page)},
        headers=same_origin(web),
    )

    assert (response.status_code, response.headers["location"]) == (303, KEEP_JOB)
    assert expiry(site) is None
    assert "kept (never expires)" in web.get(KEEP_JOB).text


def test_delete_needs_a_maintainer(site: ServerProcess, web: httpx2.Client) -> None:
    signed_in(web, ALICE_TOKEN)
    token = csrf_of(web.get(JOB).text)

    response = web.post(
        f"{JOB}/artifacts/delete", data={"authenticity_token": token}, headers=same_origin(web)
    )

    assert response.status_code == 403
    assert web.get(f"{JOB}/artifacts/browse").status_code == 200


def test_a_maintainer_deletes_the_artifacts_with_the_form(
    site: ServerProcess, web: httpx2.Client
) -> None:
    signed_in(web, ROOT_TOKEN)
    page = web.get(KEEP_JOB).text
    assert f'action="{KEEP_JOB}/artifacts/delete"' in page

    response = web.post(
        f"{KEEP_JOB}/artifacts/delete",
        data={"authenticity_token": csrf_of(page)},
        headers=same_origin(web),
    )

    assert (response.status_code, response.headers["location"]) == (303, KEEP_JOB)
    assert web.get(f"{KEEP_JOB}/artifacts/browse").status_code == 404
    assert "No artifacts." in web.get(KEEP_JOB).text
