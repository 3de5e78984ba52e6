"""The local stand-in checkout in a real headless Chromium (local mode, as under `make run`):
ask for a payment link in /dev/chat, pay on /dev/pay/<id>, see the purchase in the panel."""
from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Purchase
from tests import browser
from tests.browser import driver  # noqa: F401 - the module-scoped browser fixture

pytestmark = pytest.mark.browser

VK_ID = 3434


def test_local_checkout_pays_and_the_panel_shows_the_purchase(make_app: Any,
                                                              driver: Any) -> None:  # noqa: F811
    app = make_app(start_background=True, local_mode=True, vk_group_token=None, vk_secret=None,
                   vk_group_id=None, debounce_seconds=0, worker_threads=2, worker_poll_s=0.1)
    assert services(app).payments is not None and services(app).payments.local is not None
    By = browser.By
    with browser.LiveServer(app) as server:
        driver.get(server.url + "/dev/chat")
        browser.fill(driver, "#vk_id", str(VK_ID))
        browser.fill(driver, "#text", "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.out .kb-open_link"))
        button = driver.find_elements(By.CSS_SELECTOR, ".msg.out .kb-open_link")[-1]
        assert button.text.startswith("Оплатить") and "14 900" in button.text
        assert "14 900 ₽" in driver.find_elements(By.CSS_SELECTOR, ".msg.out")[-1].text
        href = button.get_attribute("href")
        assert "/dev/pay/local-" in href
        browser.screenshot(driver, "devchat-payment-link")

        driver.get(href)
        assert "14900.00" in browser.text_of(driver, "#pay-amount")
        browser.submit(driver, "#pay-btn")
        assert browser.text_of(driver, "#pay-status") == "оплачен"
        browser.screenshot(driver, "devpay")

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with services(app).db.session() as s:
                purchase = s.execute(select(Purchase)).scalar_one_or_none()
            if purchase is not None:
                break
            time.sleep(0.1)
        assert purchase is not None and purchase.amount_rub == 14900

        driver.get(server.url + "/dev/chat")
        browser.fill(driver, "#vk_id", str(VK_ID))
        WebDriverWait(driver, 20).until(lambda d: any(
            "Спасибо за оплату" in m.text for m in d.find_elements(By.CSS_SELECTOR, ".msg.out")))

        assert browser.panel_login(driver, server.url, "admin-pass") == ""
        driver.get(server.url + f"/admin/clients/{VK_ID}")
        links = browser.text_of(driver, "#client-payment-links")
        assert "piano-from-zero" in links and "оплачен" in links and "14900 ₽" in links
        assert "Фортепиано с нуля" in driver.page_source  # the purchase and its access
        driver.get(server.url + "/admin/payments")
        assert "piano-from-zero" in browser.text_of(driver, "#awaiting-access")
        browser.screenshot(driver, "payments")
        browser.submit(driver, "#awaiting-access button")
        assert "отмечен" in browser.text_of(driver, ".flash")
        browser.wait_for(driver, "#awaiting-empty")
