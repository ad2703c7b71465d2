"""Headless Chromium for the tests that open a page as a person would (the web demo, the documentation site)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest


def chromium_paths() -> tuple[str, str]:
    """Debian's Chromium and its chromedriver; skips the test when either (or selenium) is missing."""
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[dev]')")
    browser, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not browser or not driver_path:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    return browser, driver_path


@contextmanager
def headless_chromium(profile_dir: Path, width: int = 1400, height: int = 1000):
    """Headless Chromium driven by its chromedriver, both given by path so Selenium Manager downloads nothing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
