"""Write `docs/status-page.png`: the status page with realistic data, as headless
Chromium shows it at a desktop width.

Run from the repository root: `python -m tests.status_page_screenshot [out.png]`
(needs Debian's `chromium` and `chromium-driver`).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.clock import ManualClock
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, Harness, make_policy, start_bot
from tests.status_page_support import Demo, seed_demo, status_policy_block

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OUT = Path(__file__).resolve().parent.parent / "docs" / "status-page.png"


def browser(width: int = 1200, height: int = 900) -> Any:
    """Headless Chromium driven by Selenium, recording the console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


@contextmanager
def demo_bot(database_url: str) -> Iterator[tuple[Harness, Demo]]:
    """The bot serving a status page seeded by `seed_demo`, with its own fake Slack."""
    from tests.fakeslack import FakeSlack

    fake = FakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    fake.start()
    channel = fake.add_channel("incidents", members=[], bot_member=True)
    clock = ManualClock(datetime.now(UTC).replace(second=0, microsecond=0))
    policy = make_policy(announcement_channel=channel, status_page=status_policy_block())
    bot = start_bot(fake, database_url, clock=clock, policy=policy)
    try:
        yield bot, seed_demo(bot.db, clock.now())
    finally:
        bot.runtime.stop()
        fake.stop()


def full_page(driver: Any, out: Path) -> None:
    """Save a screenshot of the whole page (the window grown to the page's height)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))


def main(argv: list[str]) -> int:
    """Seed a page, open it in Chromium, save the screenshot."""
    out = Path(argv[0]) if argv else OUT
    with tempfile.TemporaryDirectory() as tmp, demo_bot(f"sqlite:///{tmp}/demo.db") as (bot, _):
        driver = browser()
        try:
            driver.get(f"http://127.0.0.1:{bot.runtime.port}/status")
            full_page(driver, out)
        finally:
            driver.quit()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
