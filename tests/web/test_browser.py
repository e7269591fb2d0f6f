"""The web app in a real browser (Debian's Chromium driven by Playwright).

Each test saves a screenshot to ``tests/artifacts/screenshots/<test>.png``. Every test also
checks that the page raised no JavaScript error and that no request left 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from web_helpers import MANAGER, REP, sign_in

pytestmark = pytest.mark.browser


def _clean(web) -> None:
    assert web.errors == [], web.errors
    assert web.external_requests() == [], web.external_requests()


def test_manager_signs_in_and_lands_on_the_dashboard(web):
    sign_in(web, MANAGER)
    assert web.page.url.endswith("/dashboard")
    assert web.page.get_by_role("heading", name="Dashboard").is_visible()
    _clean(web)


def test_rep_signs_in_and_lands_on_their_tasks(web):
    sign_in(web, REP)
    assert web.page.url.endswith("/tasks")
    assert web.page.get_by_role("heading", name="My tasks").is_visible()
    _clean(web)


def test_wrong_password_is_refused_on_the_sign_in_page(web):
    page = web.page
    page.goto(f"{page.base}/login")
    page.get_by_label("Login").fill(MANAGER)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "wrong login or password"
    assert "/login" in page.url


def test_dashboard_charts_render_without_errors_or_external_requests(web):
    sign_in(web, MANAGER)
    page = web.page
    page.wait_for_function("window.clmCharts && window.clmCharts.length >= 5")
    for chart in ("chart-stages", "chart-funnel", "chart-flows", "chart-cohorts", "chart-rfm",
                  "chart-clv"):
        canvas = page.locator(f"#{chart} canvas")
        assert canvas.count() >= 1, f"{chart} drew nothing"
        box = canvas.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, chart
    # every number links to the customers behind it
    link = page.locator(".kpi a[data-kpi]").first
    stage = link.get_attribute("data-kpi")
    link.click()
    page.wait_for_load_state("networkidle")
    assert f"stage={stage}" in page.url
    assert page.locator("#customer-table tbody tr").count() >= 1
    _clean(web)


def test_dashboard_fits_a_phone_screen(web):
    web.page.set_viewport_size({"width": 390, "height": 844})
    sign_in(web, MANAGER)
    page = web.page
    page.wait_for_function("window.clmCharts && window.clmCharts.length >= 5")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than the phone screen"
    _clean(web)


def test_logging_a_follow_up_puts_its_next_plan_in_the_inbox(web):
    sign_in(web, REP)
    page = web.page
    page.goto(f"{page.base}/customers?sort=-stage_since")
    page.locator("#customer-table tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#h-basic").is_visible()
    purpose = f"Demo of the new reports {uuid.uuid4().hex[:6]}"
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    page.get_by_label("Channel", exact=True).select_option("phone")
    page.get_by_label("What was agreed").fill("Called; they want a demo of the reports.")
    page.get_by_label("Next follow-up on").fill(tomorrow)
    page.get_by_label("Purpose of the next follow-up").fill(purpose)
    page.get_by_role("button", name="Save follow-up").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("status").inner_text().startswith("Follow-up saved")
    assert purpose in page.locator("#follow-ups").inner_text()
    page.get_by_role("link", name="My tasks").click()
    page.wait_for_load_state("networkidle")
    upcoming = page.locator("#tasks-upcoming")
    assert purpose in upcoming.inner_text()
    _clean(web)


def test_completing_a_task_with_a_note_and_next_plan_in_one_step(web):
    sign_in(web, REP)
    page = web.page
    task = page.locator("li[id^=task-]").first
    task_id = task.get_attribute("id")
    task.locator("summary").click()
    task.get_by_label("Note: what happened").fill("Walked them through onboarding.")
    later = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    task.get_by_label("Next follow-up on").fill(later)
    task.get_by_label("Purpose of the next follow-up").fill("Check the first week of use")
    task.get_by_role("button", name="Mark done").click()
    page.locator(f"#{task_id} .notice.ok").wait_for()
    assert "Check the first week of use" in page.locator(f"#{task_id}").inner_text()
    page.reload()
    assert page.locator(f"#{task_id}").count() == 0
    assert "Check the first week of use" in page.locator("#tasks-upcoming").inner_text()
    _clean(web)


def test_changing_a_threshold_shows_the_preview_before_saving(web):
    sign_in(web, MANAGER)
    page = web.page
    page.goto(f"{page.base}/models")
    rule = page.locator('input[data-rule="days_since_last_order > 90"]')
    rule.fill("days_since_last_order > 150")
    page.locator("#preview-rules").click()
    summary = page.locator("#preview-summary")
    summary.wait_for(timeout=180_000)
    text = summary.inner_text()
    assert "customers would change stage" in text
    moved = int(text.split(" of ")[0].replace(",", ""))
    assert moved > 0, text
    assert page.locator("#transition-matrix tr.moved").count() >= 1
    assert page.locator("#save-model").is_visible()
    _clean(web)


def test_a_model_with_an_error_names_its_line(web):
    sign_in(web, MANAGER)
    page = web.page
    page.goto(f"{page.base}/models")
    box = page.locator("#model-yaml")
    box.fill(box.input_value().replace("days_since_last_order > 90", "days_since_last_ordr > 90"))
    page.locator("#preview-yaml").click()
    error = page.locator("#validation-error")
    error.wait_for(timeout=60_000)
    assert "days_since_last_ordr" in error.inner_text()
    assert "line" in error.inner_text()
    _clean(web)


def test_switching_to_chinese_is_remembered_across_pages(web):
    sign_in(web, MANAGER)
    page = web.page
    page.locator('a[data-lang="zh-CN"]').click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="仪表盘").is_visible()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(f"{page.base}/customers")
    assert page.get_by_role("heading", name="客户").is_visible()
    assert page.get_by_role("link", name="我的任务").is_visible()
    page.goto(f"{page.base}/dashboard")
    page.wait_for_function("window.clmCharts && window.clmCharts.length >= 5")
    _clean(web)


def test_importing_a_file_with_a_bad_row_quarantines_it_for_download(web, tmp_path):
    sign_in(web, MANAGER)
    page = web.page
    upload = tmp_path / "orders-upload.csv"
    upload.write_text(
        "Order No,Customer,Order time,Amount,status\n"
        "W000001,C00001,2025-12-30 10:00:00,120.50,paid\n"
        "W000002,C00002,not a date,80.00,paid\n"
        "W000003,C00003,2025-12-30 11:00:00,99.90,paid\n",
        encoding="utf-8",
    )
    page.goto(f"{page.base}/import")
    page.get_by_label("Data it holds").select_option("orders")
    page.get_by_label("File (CSV or Excel .xlsx)").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_load_state("networkidle")
    page.locator("#map-order_id").select_option("Order No")
    page.locator("#map-customer_id").select_option("Customer")
    page.locator("#map-ordered_at").select_option("Order time")
    page.locator("#map-amount").select_option("Amount")
    page.get_by_role("button", name="Import", exact=True).click()
    page.locator("#import-summary").wait_for(timeout=60_000)
    assert "Imported 2 of 3 rows" in page.locator("#import-summary").inner_text()
    assert page.locator("#quarantine tbody tr").count() == 1
    with page.expect_download() as info:
        page.locator("#download-quarantine").click()
    content = info.value.path().read_text("utf-8-sig")
    assert "W000002" in content and "ordered_at" in content
    _clean(web)
