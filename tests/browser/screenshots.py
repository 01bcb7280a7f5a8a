"""Writes docs/screenshots/*.png: each page of docs/web.md, from a real server over the
pages' world, in the system's Chromium. Run: `.venv/bin/python -m tests.browser.screenshots`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page

from tests.support.browser import chromium
from tests.support.pages import ALICE_TOKEN, PRIVATE, pages_server
from tests.support.processes import REPO

OUT = REPO / "docs" / "screenshots"
JOB = f"/{PRIVATE}/-/jobs/7"
SHOTS = [
    ("job", JOB),
    ("pipeline", f"/{PRIVATE}/-/pipelines/6"),
    ("browse-root", f"{JOB}/artifacts/browse"),
    ("browse-folder", f"{JOB}/artifacts/browse/many?page=2"),
    ("file-text", f"{JOB}/artifacts/file/docs/guide.txt"),
    ("file-image", f"{JOB}/artifacts/file/images/logo.png"),
]


def shoot(page: Page, name: str, *, full: bool = True) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print(OUT / f"{name}.png")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory, pages_server(Path(directory)) as server:
        base = server.base_url
        with chromium() as browser:
            desktop = browser.new_context(viewport={"width": 1100, "height": 760})
            page = desktop.new_page()
            page.goto(f"{base}/users/sign_in?redirect_to={JOB}")
            shoot(page, "sign-in", full=False)
            page.fill("#token", ALICE_TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}{JOB}")
            for name, path in SHOTS:
                page.goto(f"{base}{path}")
                shoot(page, name, full=name != "browse-folder")
            page.goto(f"{base}{JOB}/artifacts/file/coverage/index.html")
            page.click("text=Open report")
            page.wait_for_function("document.getElementById('page').textContent !== 'pending'")
            shoot(page, "report", full=False)
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
            )
            mobile = phone.new_page()
            mobile.goto(f"{base}/users/sign_in?redirect_to={JOB}")
            mobile.fill("#token", ALICE_TOKEN)
            mobile.click("button[type=submit]")
            mobile.wait_for_url(f"{base}{JOB}")
            shoot(mobile, "job-phone", full=False)
            mobile.goto(f"{base}{JOB}/artifacts/browse")
            shoot(mobile, "browse-phone", full=False)


if __name__ == "__main__":
    main()
