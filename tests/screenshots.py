"""Screenshots of every dashboard page at 1920x1080, 1366x768 and a phone's width (390x844),
over the simulated bank of the tests (``tests/web_support.py``), in headless Chromium:

    .venv/bin/python -m tests.screenshots docs/dashboard

Each page as the central office sees it (the sign-in page signed out); PNG files named
``<page>-<width>.png``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.web_support import FIRST_DAY, LAST_DAY, PASSWORD, build_bank, served

SIZES = ((1920, 1080), (1366, 768), (390, 844))
PERIOD = f"from={FIRST_DAY}&to={LAST_DAY}"
PAGES = (
    ("overview", f"/?{PERIOD}"),
    ("regions", f"/regions?{PERIOD}"),
    ("branches", f"/branches?region=浙江省/杭州市&{PERIOD}"),
    ("branch", f"/branch/chengguan?{PERIOD}"),
    ("counter", f"/branch/chengguan/counter/1?{PERIOD}"),
    ("teller", f"/branch/chengguan/teller/1001?{PERIOD}"),
    ("rankings", f"/rankings?by=teller&{PERIOD}"),
    ("timing", f"/timing?{PERIOD}"),
    ("heatmap", f"/heatmap?{PERIOD}"),
    ("alerts", f"/alerts?open=1&{PERIOD}"),
    ("followup", f"/followup?which=all&{PERIOD}"),
    ("followup-item", "/followup/1"),
    ("devices", f"/devices?{PERIOD}"),
    ("transactions", f"/transactions?teller=1001&{PERIOD}"),
    ("report", "/report?month=2026-11&branch=chengguan"),
)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dashboard-shots-"))
    try:
        bank = build_bank(work)
        with served(bank) as site, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True, args=["--lang=zh-CN"]
            )
            for width, height in SIZES:
                context = browser.new_context(
                    base_url=site, viewport={"width": width, "height": height}, locale="zh-CN"
                )
                page = context.new_page()
                page.goto("/login")
                page.screenshot(path=out / f"login-{width}.png")
                page.fill("input[name=name]", "zongbu")
                page.fill("input[name=password]", PASSWORD)
                page.click("form.login button")
                page.wait_for_selector("main h1")
                for name, url in PAGES:
                    page.goto(url)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=out / f"{name}-{width}.png")
                context.close()
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard"))
