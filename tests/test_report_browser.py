"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) via selenium.

Checks what a reader sees: the tables render with the expected text and fit a laptop's width, the sticky
header stays in view, the images decode, and the page fetches nothing from the network (Chrome's own
network log, checked to catch a fetch on a control page). Saves a screenshot next to the page.

CI: ``apt-get install -y chromium chromium-driver`` and ``pip install selenium``; skipped without them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.report_runs import make_run, sweep_runs, sweep_scores
from xling.reporting.tables import group_runs, table_rows
from xling.reporting.html import render_html

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
LAPTOP = (1366, 900)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("needs Chromium and its driver: apt-get install -y chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={LAPTOP[0]},{LAPTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def open_page(driver, path: Path) -> None:
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get(path.as_uri())  # returns after the load event: every image has loaded or failed


def fetched(driver) -> list[str]:
    """URLs of every request the page made, from Chrome's network log and the resource timing API."""
    import json

    urls = [json.loads(entry["message"])["message"].get("params", {}).get("request", {}).get("url")
            for entry in driver.get_log("performance")]
    urls += driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [u for u in urls if u]


def external(urls: list[str], page: Path) -> list[str]:
    return [u for u in urls if not u.startswith("data:") and u != page.as_uri()]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(sweep_runs(), baseline="last"), encoding="utf-8")
    return path


def test_network_check_catches_a_fetch(browser, tmp_path):
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/missing.png"><p>x</p>', encoding="utf-8")
    open_page(browser, control)
    assert "http://127.0.0.1:9/missing.png" in external(fetched(browser), control)


def test_report_renders_offline_in_chromium(browser, report):
    from selenium.webdriver.common.by import By

    open_page(browser, report)
    assert external(fetched(browser), report) == []

    header, rows, _ = table_rows(group_runs(sweep_runs()))
    table = browser.find_element(By.CSS_SELECTOR, "table.scores")
    heads = table.find_elements(By.CSS_SELECTOR, "thead th")
    assert [h.text.replace("\n", " ") for h in heads] == header
    first = table.find_elements(By.CSS_SELECTOR, "tbody tr")[0].find_elements(By.TAG_NAME, "td")
    assert [c.text for c in first] == rows[0] and all(c.is_displayed() and c.size["width"] > 0 for c in first)
    assert browser.find_element(By.CSS_SELECTOR, "table.averages").is_displayed()

    images = browser.find_elements(By.TAG_NAME, "img")
    assert len(images) == 2
    for image in images:
        loaded = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
        assert loaded > 0, image.get_attribute("alt")

    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways at {LAPTOP[0]} px: {width}"
    gains = browser.find_element(By.CSS_SELECTOR, "table.gains")
    browser.execute_script("arguments[0].scrollIntoView(); window.scrollBy(0, 150)", gains)
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top",
                                 gains.find_element(By.CSS_SELECTOR, "thead th"))
    assert abs(top) < 2, "the gains table's header should stay at the top while its rows scroll"

    browser.execute_script("window.scrollTo(0, 0)")
    shot = report.with_suffix(".png")
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_ten_columns_fit_a_laptop_screen(browser, tmp_path):
    from selenium.webdriver.common.by import By

    configs = [("last", None), ("scalar_mix", None), ("mean", None)] + [("aif", k) for k in (1, 2, 3, 4, 5)]
    configs += [("concat", 2), ("concat", 4)]
    runs = [make_run(s, sweep_scores("last", None, s), fusion, layer) for fusion, layer in configs for s in (1, 2)]
    page = tmp_path / "wide.html"
    page.write_text(render_html(runs, baseline="last"), encoding="utf-8")
    open_page(browser, page)
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.scores thead th")) == 11
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"ten columns scroll sideways at {LAPTOP[0]} px: {width}"
    assert external(fetched(browser), page) == []
