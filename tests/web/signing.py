"""Signing in as a browser does: the form, then the cookie it sets."""

from __future__ import annotations

import re

import httpx2

from artifactsvc.web.session import COOKIE

CSRF = re.compile(r'name="authenticity_token" value="([^"]+)"')


def sign_in(client: httpx2.Client, token: str, **form: str) -> httpx2.Response:
    response = client.post(
        "/users/sign_in",
        data={"personal_access_token": token, **form},
        headers={"Origin": str(client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"},
    )
    return response


def signed_in(client: httpx2.Client, token: str) -> httpx2.Client:
    response = sign_in(client, token)
    assert response.status_code == 303, response.text
    assert client.cookies.get(COOKIE)
    return client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def same_origin(client: httpx2.Client) -> dict[str, str]:
    return {"Origin": str(client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
