"""A real browser for the dashboard tests: Debian's headless chromium through Selenium.

The driver is /usr/bin/chromedriver, named explicitly so that Selenium
Manager never looks for (or downloads) another one; the browser runs with
a fresh profile and without anything that phones home. Without chromium
the tests are skipped with the reason, except under CI (CI=true), where
that is a failure: .ci/run installs chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from operator_helpers import SERVE_CODE, Served
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0
LAPTOP = (1280, 860)
PHONE = (390, 844)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=en-US")


def require_chromium() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return
    reason = (f"no {' or '.join(missing)}: install Debian's chromium and chromium-driver "
              "(apt-get install chromium chromium-driver) to run the browser tests")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A headless chromium with a fresh profile in `profile`."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                 f"--window-size={LAPTOP[0]},{LAPTOP[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    try:
        driver.set_page_load_timeout(WAIT)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def login_link(served: Served) -> str:
    """`tagshare dashboard`, run as the operator runs it (its own process)."""
    finished = subprocess.run(
        [sys.executable, "-c", SERVE_CODE, "--home", str(served.home), "dashboard"],
        capture_output=True, text=True, timeout=WAIT, cwd=ROOT, check=False)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.strip()


def wait_until(driver: webdriver.Chrome, what: str, check: Callable[[webdriver.Chrome], Any],
               ) -> Any:
    """Wait for `check` to be truthy; the page's live part may be swapped meanwhile."""
    return WebDriverWait(driver, WAIT, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,
                                             NoSuchElementException),
                         ).until(check, message=f"the browser never showed {what}")


def text_of(driver: webdriver.Chrome, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def shows(css: str, expected: str) -> Callable[[webdriver.Chrome], bool]:
    """A check: the element at `css` reads `expected`."""
    return lambda driver: text_of(driver, css) == expected


def screenshot(driver: webdriver.Chrome, name: str, size: tuple[int, int] = LAPTOP) -> Path:
    """Save the page as docs/screenshots/NAME.png (shown by docs/operator-guide.md)."""
    driver.set_window_size(*size)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    driver.set_window_size(*LAPTOP)
    return path
