"""What the dashboard's browser tests share: Debian's Chromium, its flags,
and a page that collects console errors and writes screenshots."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FUSIONLAB_TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))
CHROMIUM = os.environ.get("FUSIONLAB_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium, headless, quiet: nothing reaches outside the machine.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 1000}


class Tab:
    """A page of its own browser context, collecting console errors."""

    def __init__(self, browser, base_url):
        self.context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1,
                                           base_url=base_url)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def open(self, path="/"):
        self.page.goto(path)
        self.page.wait_for_selector("body[data-state=ready]", timeout=20_000)
        self.page.wait_for_selector("#conn[data-conn=live]", timeout=10_000)
        return self.page

    def total(self) -> int:
        return int(self.page.evaluate("document.body.dataset.total"))

    def shot(self, name, full_page=True):
        ARTIFACTS.joinpath("dashboard").mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "dashboard" / name
        self.page.screenshot(path=path, full_page=full_page)
        return path
