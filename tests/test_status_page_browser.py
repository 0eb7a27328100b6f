"""The status page in a real browser: Debian's headless Chromium driven by Selenium.

It loads without console errors (a CSP violation would be one), shows the open public
incident and its approved update but neither the unapproved draft nor the private
incident, draws the 90-day bars, fits a 390-px-wide phone, and reads in dark mode.
Skipped only when `chromium` or `chromium-driver` is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.status_page_screenshot import CHROMEDRIVER, CHROMIUM, browser, demo_bot, full_page

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)",
)


@pytest.fixture
def driver() -> Iterator[Any]:
    """Headless Chromium, closed after the test."""
    chromium = browser()
    try:
        yield chromium
    finally:
        chromium.quit()


def _problems(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "WARNING")]


def test_the_page_in_headless_chromium(driver: Any, database_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    with demo_bot(database_url) as (bot, demo):
        url = f"http://127.0.0.1:{bot.runtime.port}/status"
        driver.get(url)
        assert driver.title.startswith("Example status")
        assert _problems(driver) == []
        text = driver.find_element(By.TAG_NAME, "body").text
        assert demo.open_title in text
        assert demo.approved_update in text
        assert demo.draft_message not in text and "DRAFT" not in text
        assert demo.private_title not in text and "Private" not in text
        incident = driver.find_element(By.ID, f"incident-{demo.open_incident}")
        assert incident.find_element(By.CSS_SELECTOR, ".status").text == "Identified"
        # The stylesheet applied (served from 'self' under the CSP): bars are drawn.
        rows = driver.find_elements(By.CSS_SELECTOR, ".bars")
        assert len(rows) == 5
        for row in rows:
            assert row.get_attribute("role") == "img" and "uptime" in row.get_attribute(
                "aria-label"
            )
            bars = row.find_elements(By.CSS_SELECTOR, ".d")
            assert len(bars) == 90
            assert all(bar.size["width"] > 0 and bar.size["height"] >= 20 for bar in bars[:3])
        red = driver.find_element(By.CSS_SELECTOR, ".d.s-major_outage")
        assert red.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
        assert red.get_attribute("title").endswith("min")
        full_page(driver, tmp_path / "desktop.png")

        # A phone: 390 px wide, no horizontal scrolling, the bars still all there.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
        )
        driver.get(url)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        viewport = driver.execute_script("return document.documentElement.clientWidth")
        assert viewport == 390 and width <= viewport
        bars = driver.find_elements(By.CSS_SELECTOR, ".bars")[0]
        assert bars.size["width"] <= 390
        assert all(bar.size["width"] > 0 for bar in bars.find_elements(By.CSS_SELECTOR, ".d"))
        driver.save_screenshot(str(tmp_path / "phone.png"))

        # Dark mode: the colours of the page change with the system's preference.
        light = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        dark = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert light == "rgb(255, 255, 255)" and dark == "rgb(17, 24, 39)"
        assert _problems(driver) == []
