"""Selenium helpers for page tests: a live server in a thread and Debian's headless Chromium."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
WIDTH, HEIGHT = 1280, 900


class LiveServer:
    """`app` served over real HTTP on 127.0.0.1 (random port) from a background thread."""

    def __init__(self, app: Any) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._thread.join(5)


def browsers_installed() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def chrome() -> Iterator[WebDriver]:
    """A headless Chromium with its own throw-away profile; quits and cleans up after."""
    profile = tempfile.mkdtemp(prefix="neuro-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=ru-RU",
                f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    chrome_h = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
    driver.set_window_size(WIDTH, HEIGHT + int(chrome_h))  # the page itself gets 1280x900
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: WebDriver, css: str, timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def text_of(driver: WebDriver, css: str) -> str:
    return wait_for(driver, css).text


def wait_replaced(driver: WebDriver, old: Any, timeout: float = 10) -> None:
    """Wait until `old` (the previous page's <html>) is gone. Chromium sometimes answers a
    probe of a node from the replaced document with "Node ... does not belong to the document"
    instead of a stale-element error (ec.staleness_of lets that escape): both mean gone."""
    def gone(_: WebDriver) -> bool:
        try:
            old.is_enabled()
        except (StaleElementReferenceException, WebDriverException):
            return True
        return False

    WebDriverWait(driver, timeout).until(gone)


def submit(driver: WebDriver, button_css: str) -> None:
    """Click a submit button and wait for the next page to replace this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, button_css).click()
    wait_replaced(driver, old)


def fill(driver: WebDriver, css: str, value: str) -> None:
    field = driver.find_element(By.CSS_SELECTOR, css)
    field.clear()
    field.send_keys(value)


def screenshot(driver: WebDriver, name: str) -> Path:
    """Into docs/screenshots with UPDATE_SCREENSHOTS=1, else a temp folder (tests keep the tree
    clean); either way the page must render to a non-empty PNG."""
    import os
    import tempfile

    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"neuro-{name}.png" if folder != SCREENSHOTS else folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def panel_login(driver: WebDriver, base_url: str, password: str) -> str:
    """Log in through the form; returns the error shown ('' when the panel opened)."""
    driver.get(base_url + "/admin/")
    wait_for(driver, "#password").send_keys(password)
    submit(driver, "#login-btn")
    errors = driver.find_elements(By.CSS_SELECTOR, "#login-error")
    return errors[0].text if errors else ""


def tamper_csrf_and_submit(driver: WebDriver, form_css: str, button_css: str) -> str:
    """Replace the form's hidden CSRF token via JS, submit, return the error page's text."""
    driver.execute_script(
        "document.querySelector(arguments[0] + ' input[name=csrf_token]').value = 'forged';",
        form_css)
    submit(driver, button_css)
    return text_of(driver, "#error-page")


def edit_card(driver: WebDriver, url: str, values: dict[str, str], stage: str) -> str:
    """Open a client card, type `values` ({field name: text}), pick the stage, save; flash text."""
    driver.get(url)
    for name, value in values.items():
        fill(driver, f"#f-{name}", value)
    driver.find_element(By.CSS_SELECTOR, f"#f-funnel_stage option[value={stage}]").click()
    submit(driver, "#card-save")
    return text_of(driver, ".flash")


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    """One browser per test module (import it into the module that uses it)."""
    if not browsers_installed():
        pytest.fail("chromium/chromedriver missing: `make browsers` "
                    "(apt-get install chromium chromium-driver)")
    yield from chrome()
