"""The web page in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.conftest import API_KEY, RunningGateway
from tests.gateway.marts import MONTHS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads")})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the page")


def test_search_shows_key_metrics_and_charts_compare_and_sql(browser, gateway: RunningGateway, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(gateway.url + "/")
    assert "Commonlake" in browser.title
    browser.find_element(By.ID, "api-key").send_keys(API_KEY)
    browser.find_element(By.ID, "search-input").send_keys("datafus")
    browser.find_element(By.ID, "search-button").click()

    # One match: the project opens, its chart is drawn from the time-series mart.
    path = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#chart-commits svg path.series"))[0]
    assert path.get_attribute("d").count("L") == len(MONTHS) - 1
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-commits svg circle.point")) == len(MONTHS)
    assert _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#chart-stars svg path.series"))
    assert browser.find_element(By.ID, "project-title").text == "Datafusion"
    cards = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#key-metrics .card"))
    assert len(cards) == 3 and "Commits (monthly)" in " ".join(c.text for c in cards)
    # Metrics the marts do not have (forks…) are left out rather than shown broken.
    assert not browser.find_elements(By.ID, "chart-forks")

    # Compare two projects on one chart.
    browser.find_element(By.ID, "compare-input").send_keys("duckdb, iceberg")
    browser.find_element(By.CSS_SELECTOR, "#compare-form button").click()
    lines = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#compare-chart svg path.series"))
    assert sorted(line.get_attribute("data-label") for line in lines) == ["duckdb", "iceberg"]

    # The SQL box fills a results table.
    box = browser.find_element(By.ID, "sql-input")
    box.clear()
    box.send_keys("SELECT project_name FROM marts.projects_v1 WHERE project_name LIKE 'd%' ORDER BY 1")
    browser.find_element(By.ID, "sql-run").click()
    cells = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#sql-results td"))
    assert [c.text for c in cells] == ["datafusion", "duckdb"]
    assert "2 rows" in browser.find_element(By.ID, "sql-status").text

    # …and downloads the same result as CSV.
    browser.find_element(By.ID, "sql-csv").click()
    download = tmp_path / "downloads" / "commonlake-result.csv"
    _wait(lambda: download.exists() and download.stat().st_size > 0)
    assert download.read_text().split() == ['"project_name"', '"datafusion"', '"duckdb"']

    # A refused statement shows the gateway's message.
    box.clear()
    box.send_keys("DROP TABLE marts.projects_v1")
    browser.find_element(By.ID, "sql-run").click()
    _wait(lambda: "Only SELECT" in browser.find_element(By.ID, "sql-status").text)

    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_api_docs_render_offline(browser, gateway: RunningGateway) -> None:
    from selenium.webdriver.common.by import By

    browser.get(gateway.url + "/docs")
    operations = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    assert "/v1/sql" in [o.text.replace("\u200b", "") for o in operations]
