"""A headless Debian chromium driven by Playwright (never ``playwright install``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.web_support import CHROMIUM, CHROMIUM_FLAGS


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    assert shutil.which(CHROMIUM), (
        "Debian chromium is missing: scripts/bootstrap.sh dev installs it"
    )
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ``$KIOSK_SCREENSHOT_DIR`` (docs/screenshots) or a temp folder."""
    target = Path(os.environ.get("KIOSK_SCREENSHOT_DIR") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh 1280×800 page that accepts downloads."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()
