"""The owner's numbers on the staff dashboard: period selector, SVG charts, KB-gap links;
then the same page in a real headless Chromium (screenshot docs/screenshots/dashboard-owner.png)."""
from __future__ import annotations

import re
from typing import Any

import pytest

from app.composition.factory import parts as services
from tests import browser
from tests.admin.test_admin_web import html, logged_in
from tests.browser import driver  # noqa: F401 - the module-scoped browser fixture
from tests.report_seed import ABROAD, SOLFEGE, seed_story

PRICES = dict(gemini_price_input_per_m=1.0, gemini_price_output_per_m=10.0,
              gemini_price_cached_per_m=0.1)


def seeded_app(make_app: Any, clock: Any) -> tuple[Any, dict[str, int]]:
    app = make_app(**PRICES)
    with services(app).db.session() as s:
        story = seed_story(s, clock.now())
        ids = {k: d.id for k, d in story.dialogs.items()}
    return app, ids


def test_dashboard_shows_the_period_figures_and_gap_links(make_app, clock) -> None:  # noqa: ANN001
    app, ids = seeded_app(make_app, clock)
    c = logged_in(app)
    page = html(c.get("/admin/dashboard"))
    assert re.search(r'id="kpi-revenue">27 410 ₽ / 15 410 ₽<', page)
    assert 'id="kpi-clients">6<' in page and 'id="kpi-became">1<' in page
    for chart in ("chart-funnel", "chart-revenue", "chart-reminders", "chart-cost"):
        assert f'<svg id="{chart}"' in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched from outside
    gaps = page[page.index('id="kb-gaps"'):]
    assert SOLFEGE[0] in gaps and ABROAD in gaps
    for key in ("E", "F", "G"):
        assert f'href="/admin/dialogs/{ids[key]}"' in gaps
    assert "клиент уже купил" in page and "first-purchase" in page
    week = html(c.get("/admin/dashboard?days=7"))
    assert re.search(r'id="kpi-revenue">2 000 ₽ / 2 000 ₽<', week)
    assert '<option value="7" selected>' in week


def test_dashboard_bad_period_is_a_clear_error_and_empty_db_gives_zeros(app) -> None:  # noqa: ANN001
    c = logged_in(app)
    for bad in ("0", "-5", "abc"):
        r = c.get(f"/admin/dashboard?days={bad}")
        assert r.status_code == 400 and "Период" in html(r)
    page = html(c.get("/admin/dashboard?days=3"))
    assert 'id="kpi-revenue">0 ₽ / 0 ₽<' in page and "Пробелов не найдено" in page


def _full_page_screenshot(drv: Any, name: str) -> None:
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(browser.WIDTH, min(int(height) + 140, 4000))
    browser.screenshot(drv, name)
    drv.set_window_size(browser.WIDTH, browser.HEIGHT)


@pytest.mark.browser
def test_owner_dashboard_in_a_real_browser(make_app, clock, driver) -> None:  # noqa: ANN001,F811
    app, ids = seeded_app(make_app, clock)
    with browser.LiveServer(app) as server:
        assert browser.panel_login(driver, server.url, "admin-pass") == ""
        driver.get(server.url + "/admin/dashboard")
        assert "27 410" in browser.text_of(driver, "#kpi-revenue")
        bars = driver.find_elements(browser.By.CSS_SELECTOR, "#chart-funnel rect")
        assert len(bars) == 7 and all(b.size["height"] > 0 for b in bars)
        assert driver.find_element(browser.By.CSS_SELECTOR, "#chart-cost").size["width"] > 300
        _full_page_screenshot(driver, "dashboard-owner")
        old = driver.find_element(browser.By.TAG_NAME, "html")
        driver.find_element(browser.By.CSS_SELECTOR, "#days option[value='7']").click()
        browser.wait_replaced(driver, old)
        assert "days=7" in driver.current_url
        assert "2 000" in browser.text_of(driver, "#kpi-revenue")
        link = driver.find_element(browser.By.CSS_SELECTOR,
                                   f"#kb-gaps a[href='/admin/dialogs/{ids['E']}']")
        old = driver.find_element(browser.By.TAG_NAME, "html")
        link.click()
        browser.wait_replaced(driver, old)
        assert driver.current_url.endswith(f"/admin/dialogs/{ids['E']}")
        assert SOLFEGE[0] in browser.text_of(driver, "#timeline")
