"""The local chat page that stands in for VK, in a real headless Chromium: a person types as a
VK user and sees the assistant's reply (local mode: no VK token, the app's own VK stand-in)."""
from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests import browser
from tests.browser import driver  # noqa: F401 - the module-scoped browser fixture


@pytest.mark.browser
def test_local_chat_page_round_trip(make_app: Any, driver: Any) -> None:  # noqa: F811
    app = make_app(start_background=True, local_mode=True, vk_group_token=None, vk_secret=None,
                   vk_group_id=None,
                   debounce_seconds=0, worker_threads=2, worker_poll_s=0.1)
    assert app.extensions["neuro"].local_vk is not None
    with browser.LiveServer(app) as server:
        driver.get(server.url + "/dev/chat")
        assert "Панель сотрудников" in driver.page_source
        browser.fill(driver, "#vk_id", "3131")
        browser.fill(driver, "#first_name", "Светлана")
        browser.fill(driver, "#text", "Здравствуйте! Можно ли заниматься на синтезаторе?")
        driver.find_element(browser.By.CSS_SELECTOR, "form button").click()
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(browser.By.CSS_SELECTOR, ".msg.out"))
        reply = driver.find_element(browser.By.CSS_SELECTOR, ".msg.out").text
        assert "Светлана" in reply and "синтезатор" in reply.lower()
        assert driver.find_element(browser.By.CSS_SELECTOR, ".msg.in").text.startswith("Здравствуйте")
        browser.screenshot(driver, "devchat")


def test_no_chat_page_beside_a_real_vk_token(app: Any) -> None:
    assert app.test_client().get("/dev/chat").status_code == 404


@pytest.mark.browser
def test_local_chat_page_shows_and_presses_buttons(make_app: Any, driver: Any) -> None:  # noqa: F811
    app = make_app(start_background=True, local_mode=True, vk_group_token=None, vk_secret=None,
                   vk_group_id=None,
                   debounce_seconds=0, worker_threads=2, worker_poll_s=0.1)
    emulator = app.extensions["neuro"].local_vk.emulator
    with browser.LiveServer(app) as server:
        driver.get(server.url + "/dev/chat")
        browser.fill(driver, "#vk_id", "3232")
        browser.fill(driver, "#text", "Хочу научиться играть на пианино с нуля, какой курс выбрать?")
        driver.find_element(browser.By.CSS_SELECTOR, "form button").click()
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(browser.By.CSS_SELECTOR, ".msg.out .kb-callback"))
        links = driver.find_elements(browser.By.CSS_SELECTOR, ".msg.out .kb-open_link")
        assert all(a.get_attribute("href").startswith("https://") for a in links)
        button = driver.find_elements(browser.By.CSS_SELECTOR, ".msg.out .kb-callback")[0]
        label = button.text
        browser.screenshot(driver, "devchat-buttons")
        button.click()
        WebDriverWait(driver, 20).until(
            lambda d: len(d.find_elements(browser.By.CSS_SELECTOR, ".msg.out")) >= 2)
        assert [a.peer_id for a in emulator.event_answers()] == [3232]
        pressed = driver.find_elements(browser.By.CSS_SELECTOR, ".msg.in")[-1].text
        assert pressed and label  # the press became the client's message, and it was answered
