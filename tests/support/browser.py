"""Chromium driven by Playwright, for tests/browser and the screenshots: the system's own
build (/usr/bin/chromium; Playwright's downloads are never used), or a clean skip."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserType, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system's Chromium, headless."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's `chromium` package)")
    with sync_playwright() as playwright:
        browser = launch(playwright.chromium)
        try:
            yield browser
        finally:
            browser.close()


def launch(kind: BrowserType, args: Sequence[str] = ()) -> Browser:
    """Another Chromium from the same Playwright (one runs per thread); `args` adds switches."""
    return kind.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", *args])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found
