"""A real headless browser for the console's tests: Debian's chromium, driven by Selenium's chromedriver.

Chromium starts with a fresh profile and without any network of its own (no component updates, sync
or background fetches), and is driven against pytest-django's live server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1440,1000",
)
OPERATOR, PASSWORD = "oncall", "a-long-test-password"


@pytest.fixture
def browser():
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            pytest.fail(f"{binary} is missing: `apt-get install chromium chromium-driver` (.ci/run does)")
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console(browser, live_server, settings, django_user_model):
    """The browser, logged in to the admin as an on-call operator (through the real login form)."""
    # Plain HTTP on localhost: cookies cannot be marked secure here as they are in production.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_superuser(OPERATOR, "oncall@example.org", PASSWORD)
    browser.get(f"{live_server.url}/admin/")
    browser.find_element(By.NAME, "username").send_keys(OPERATOR)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, By.ID, "dashboard")
    browser.base_url = live_server.url
    return browser


def wait_for(driver, by: str, selector: str, timeout: float = 15):
    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located((by, selector)))


def wait_for_text(driver, text: str, timeout: float = 15) -> None:
    """Until the page shows the text (the page may be replaced by the next one meanwhile)."""
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))
    wait.until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def save_full_page(driver, path: Path) -> None:
    """A screenshot of the whole page (the window is made as tall as the page, up to 2,400 px)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, min(max(height, 600), 2400))
    driver.save_screenshot(str(path))
    driver.set_window_size(1440, 1000)
