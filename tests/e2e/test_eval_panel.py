"""The panel's eval pages in a real headless Chromium: runs under EVAL_RUNS_DIR with their
summary, one run's dialogs with verdicts and reasons, the report.md link."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.eval.judging import Judged
from app.eval.results import build_results
from app.eval.runner import DialogRun
from app.eval.scenarios import parse_scenario
from app.eval.session import write_run
from tests import browser
from tests.browser import driver  # noqa: F401 - the module-scoped browser fixture

pytestmark = pytest.mark.browser

SCENARIO = {"id": "parent-child-7", "persona": "мама девочки 7 лет",
            "turns": ["Сколько стоит детский курс?"], "must": ["назвал цену 12 900 ₽"],
            "must_not": ["давил"], "checks": {"contains_any": [["12 900"]]}}


def make_run(root: Path, name: str, reply: str, verdict: str) -> Path:
    run = DialogRun(scenario=parse_scenario(SCENARIO), peer_id=1)
    run.transcript = [{"role": "client", "text": SCENARIO["turns"][0]},
                      {"role": "assistant", "text": reply}]
    run.turns = [{"analysis": {"kb_ids": ["kids-piano"]}, "flags": ["guardrail:price"],
                  "usage": {"reply": {"prompt_tokens": 100, "output_tokens": 20}}}]
    points = [{"kind": "must", "text": "назвал цену 12 900 ₽", "verdict": verdict,
               "reason": f"причина-{verdict}"},
              {"kind": "must_not", "text": "давил", "verdict": "pass", "reason": "не давил"}]
    results = build_results({"prompt_version": f"pv-{name}", "brain": "gemini:test",
                             "kb_version": "1-abc", "judge": {"model": "judge-m",
                                                              "prompt_version": "jv"}},
                            [run], [Judged(points)], 3.0)
    write_run(results, root / name)
    return root / name


def test_eval_runs_page_lists_runs_and_opens_a_report(make_app, driver, tmp_path) -> None:  # noqa: ANN001,F811
    root = tmp_path / "runs"
    make_run(root, "20261201-a", "Курс стоит 12 900 ₽.", "pass")
    make_run(root / "team", "b", "Курс стоит недорого.", "fail")
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text("{nope")
    app = make_app(eval_runs_dir=str(root))
    client = app.test_client()
    assert client.get("/admin/eval").status_code == 302  # behind the password like the rest
    with browser.LiveServer(app) as server:
        assert browser.panel_login(driver, server.url, "admin-pass") == ""
        driver.find_element(browser.By.CSS_SELECTOR, "#nav-eval").click()
        table = browser.text_of(driver, "#eval-runs")
        assert "20261201-a" in table and "team/b" in table and "pv-team" not in table
        assert "pv-20261201-a" in table and "pv-b" in table and "не читается" in table
        rows = {r.get_attribute("data-run"): r for r in
                driver.find_elements(browser.By.CSS_SELECTOR, "tr.eval-run")}
        assert rows["20261201-a"].find_element(browser.By.CSS_SELECTOR, ".run-checks").text == "1/1"
        assert rows["team/b"].find_element(browser.By.CSS_SELECTOR, ".run-points").text == "1 / 1 / 0"
        browser.screenshot(driver, "eval-runs")
        rows["team/b"].find_element(browser.By.CSS_SELECTOR, "a.run-link").click()
        dialog = browser.text_of(driver, ".eval-dialog")
        assert "Курс стоит недорого." in dialog and "причина-fail" in dialog
        assert "не пройдено: contains_any: «12 900»" in dialog and "guardrail:price" in dialog
        assert "judge-m" in browser.text_of(driver, "#run-summary")
        browser.screenshot(driver, "eval-run")
        href = driver.find_element(browser.By.CSS_SELECTOR, "#report-md").get_attribute("href")
        driver.get(href)
        assert "| Диалог |" in driver.find_element(browser.By.TAG_NAME, "body").text
    client.get("/admin/login")
    with client.session_transaction() as sess:
        csrf = sess.get("csrf_token", "")
    assert client.post("/admin/login", data={"password": "admin-pass",
                                             "csrf_token": csrf}).status_code == 302
    for bad in ("/admin/eval/run/..", "/admin/eval/run/broken", "/admin/eval/report/../..",
                "/admin/eval/run/%2e%2e/etc", "/admin/eval/report/nope"):
        assert client.get(bad).status_code == 404, bad

