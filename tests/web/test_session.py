"""Sign-in, the session cookie, CSRF on forms, and an API that stays token-only."""

from __future__ import annotations

import time

import httpx2
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from artifactsvc.auth import hash_token
from artifactsvc.web.session import COOKIE
from tests.support.pages import (
    ALICE_TOKEN,
    PRIVATE,
    ROOT_TOKEN,
    SESSION_SECRET,
    csrf_of,
    same_origin,
    sign_in,
    signed_in,
)
from tests.support.processes import ServerProcess

JOB = f"/{PRIVATE}/-/jobs/7"
KEEP_JOB = f"/{PRIVATE}/-/jobs/11"
API_JOB = f"/api/v4/projects/{PRIVATE.replace('/', '%2F')}/jobs/11"


def set_cookie(response: httpx2.Response) -> str:
    [header] = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    return header


def expiry(site: ServerProcess) -> str | None:
    found = httpx2.get(f"{site.base_url}{API_JOB}", headers={"PRIVATE-TOKEN": ROOT_TOKEN})
    value: str | None = found.json()["artifacts_expire_at"]
    return value


def test_a_private_page_sends_an_anonymous_viewer_to_sign_in(web: httpx2.Client) -> None:
    response = web.get(f"{JOB}/artifacts/browse/docs?page=1")

    assert response.status_code == 302
    assert response.headers["location"] == (
        "/users/sign_in?redirect_to=%2Fgroup%2Fsub%2Fapp%2F-%2Fjobs%2F7%2Fartifacts%2Fbrowse"
        "%2Fdocs%3Fpage%3D1"
    )
    page = web.get(response.headers["location"])
    assert page.status_code == 200
    assert 'name="redirect_to" value="/group/sub/app/-/jobs/7/artifacts/browse/docs?page=1"' in (
        page.text
    )


def test_sign_in_with_a_bad_token_fails_and_sets_no_cookie(web: httpx2.Client) -> None:
    response = sign_in(web, "glpat-not-a-token")

    assert response.status_code == 401
    assert "Invalid token" in response.text
    assert "set-cookie" not in response.headers
    assert sign_in(web, "").status_code == 401


def test_sign_in_sets_a_strict_http_only_expiring_cookie(web: httpx2.Client) -> None:
    response = sign_in(web, ALICE_TOKEN, redirect_to=JOB)

    assert (response.status_code, response.headers["location"]) == (303, JOB)
    cookie = set_cookie(response)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "max-age", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "max-age=28800" in cookie.lower()  # SESSION_TTL's default, 8 hours
    assert "secure" not in attributes  # plain http
    assert ALICE_TOKEN not in cookie  # the token's digest, signed; never the token
    assert web.get(JOB).status_code == 200


def test_the_cookie_is_secure_behind_an_https_proxy(web: httpx2.Client) -> None:
    # 127.0.0.1 is FORWARDED_ALLOW_IPS' default: its X-Forwarded-Proto is believed.
    response = web.post(
        "/users/sign_in",
        data={"personal_access_token": ALICE_TOKEN},
        headers={**same_origin(web), "X-Forwarded-Proto": "https"},
    )

    assert response.status_code == 303
    assert "secure" in {part.strip().lower() for part in set_cookie(response).split(";")}


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_returns_to_another_origin(web: httpx2.Client, target: str) -> None:
    response = sign_in(web, ALICE_TOKEN, redirect_to=target)

    assert (response.status_code, response.headers["location"]) == (303, "/users/sign_in")


def test_a_form_larger_than_its_bound_is_refused(web: httpx2.Client) -> None:
    response = web.post(
        "/users/sign_in",
        data={"personal_access_token": ALICE_TOKEN, "padding": "x" * 100_000},
        headers=same_origin(web),
    )

    assert response.status_code == 413
    assert "set-cookie" not in response.headers


def test_a_cross_site_sign_in_is_refused(web: httpx2.Client) -> None:
    response = web.post(
        "/users/sign_in",
        data={"personal_access_token": ALICE_TOKEN},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_a_forged_cookie_is_no_session(web: httpx2.Client) -> None:
    signed_in(web, ALICE_TOKEN)
    value = web.cookies[COOKIE]
    web.cookies.clear()
    web.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))

    assert web.get(JOB).status_code == 302


def cookie_signed_at(moment: float) -> str:
    """A cookie as the server signs it (same secret, same salt), at a time of our choosing."""

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(moment)

    serializer = URLSafeTimedSerializer(SESSION_SECRET, salt="artifactsvc.session", signer=Then)
    return serializer.dumps({"d": hash_token(ALICE_TOKEN), "s": "chosen"})


def test_a_session_older_than_its_ttl_is_none(web: httpx2.Client) -> None:
    web.cookies.set(COOKIE, cookie_signed_at(time.time() - 60))
    assert web.get(JOB).status_code == 200  # a minute old: good for 8 hours

    web.cookies.set(COOKIE, cookie_signed_at(time.time() - 8 * 3600 - 60))
    assert web.get(JOB).status_code == 302  # past SESSION_TTL: sign in again


def test_the_api_ignores_the_session_cookie(site: ServerProcess, web: httpx2.Client) -> None:
    signed_in(web, ROOT_TOKEN)

    assert web.get("/api/v4/user").status_code == 401
    assert web.get(API_JOB).status_code == 401
    assert web.get("/api/v4/projects/1/jobs/7/artifacts").status_code == 404
    keep = web.post(f"{API_JOB}/artifacts/keep")
    assert keep.status_code == 401


def test_sign_out_needs_the_csrf_token_and_ends_the_session(web: httpx2.Client) -> None:
    signed_in(web, ALICE_TOKEN)
    token = csrf_of(web.get(JOB).text)

    assert web.post("/users/sign_out", headers=same_origin(web)).status_code == 403
    assert web.get(JOB).status_code == 200
    response = web.post(
        "/users/sign_out", data={"authenticity_token": token}, headers=same_origin(web)
    )

    assert response.status_code == 303
    assert f"{COOKIE}=" in set_cookie(response) and "max-age=0" in set_cookie(response).lower()
    assert web.get(JOB).status_code == 302


def test_the_csrf_token_is_tied_to_the_session(site: ServerProcess) -> None:
    with (
        httpx2.Client(base_url=site.base_url) as first,
        httpx2.Client(base_url=site.base_url) as second,
    ):
        signed_in(first, ALICE_TOKEN)
        signed_in(second, ALICE_TOKEN)
        token = csrf_of(first.get(KEEP_JOB).text)

        other = second.post(
            "/users/sign_out", data={"authenticity_token": token}, headers=same_origin(second)
        )

        assert other.status_code == 403  # the first session's token, posted by the second
        assert csrf_of(second.get(KEEP_JOB).text) != token
