"""The dashboard end to end in headless Chromium (Debian's ``chromium`` driven by Playwright
for Python): sign in as each role, drill down, filter, acknowledge an alert, close a follow-up
item, download an XLSX whose figures equal ``counterside centre kpi``'s, live updates.

One browser for the module, a fresh context (cookies) per test; the app served by uvicorn over
a copy of the simulated bank (``tests/web_support.py``) with a fixed clock.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect, sync_playwright

from central import cli
from central.alerts import raise_alert
from central.store import CentralStore
from sync.schema import Status
from tests.web_support import (
    FIRST_DAY,
    LAST_DAY,
    NOW,
    PASSWORD,
    Bank,
    Clock,
    copy_bank,
    served,
)

pytestmark = pytest.mark.travel_free  # the dashboard's clock is a fixed Clock
PERIOD = f"from={FIRST_DAY}&to={LAST_DAY}"


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "Debian's chromium is needed: bash scripts/setup.sh test"
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def bank(web_bank: Bank, tmp_path: Path) -> Bank:
    return copy_bank(web_bank, tmp_path / "own")


@pytest.fixture
def site(bank: Bank) -> Iterator[str]:
    with served(bank, Clock()) as url:
        yield url


def signed_in(browser: Browser, site: str, name: str) -> Page:
    page = browser.new_context(base_url=site, locale="zh-CN", accept_downloads=True).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"/?{PERIOD}")
    expect(page).to_have_url(
        f"{site}/login?next=%2F%3F{PERIOD.replace('=', '%3D').replace('&', '%26')}"
    )
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    expect(page.locator("main h1")).to_have_text("概览")
    return page


def kpi(bank: Bank, by: str, *branches: str, capsys: pytest.CaptureFixture) -> list[dict]:
    args = ["kpi", "--db", str(bank.db), "--config", str(bank.centre_file), "--by", by]
    args += ["--from", str(FIRST_DAY), "--to", str(LAST_DAY), "--format", "json"]
    for b in branches:
        args += ["--branch", b]
    capsys.readouterr()
    assert cli.main(args) == 0
    return json.loads(capsys.readouterr().out)


def card(page: Page, label: str) -> str:
    return page.locator(f"[data-card='{label}'] .value").inner_text()


@pytest.mark.parametrize(
    ("user", "scope", "branches"),
    [
        ("zongbu", "全行", ("chengguan", "haishu", "xihu")),
        ("hangzhou", "浙江省/杭州市", ("chengguan", "xihu")),
        ("chengguan-mgr", "chengguan", ("chengguan",)),
        ("guest", "全行", ("chengguan", "haishu", "xihu")),
    ],
)
def test_each_role_signs_in_to_its_own_figures(
    browser: Browser, site: str, bank: Bank, user: str, scope: str, branches: tuple, capsys
) -> None:
    page = signed_in(browser, site, user)
    expect(page.locator(".who")).to_contain_text(scope)
    (row,) = kpi(bank, "bank", *branches, capsys=capsys)
    assert card(page, "满意率") == f"{row['satisfaction_rate']:.1%}"
    assert card(page, "评价率") == f"{row['evaluation_rate']:.1%}"
    expect(page.locator("#trend canvas")).to_have_count(1)  # the chart library drew
    options = page.locator("form.filters select[name=branch] option[value]:not([value=''])")
    assert sorted(options.evaluate_all("os => os.map(o => o.value)")) == list(branches)
    downloads = page.locator(".downloads")
    expect(downloads.first).to_be_visible() if user != "guest" else expect(downloads).to_have_count(
        0
    )


def test_drill_down_from_the_bank_to_a_tellers_transactions(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "zongbu")
    page.click("header nav >> text=钻取")
    page.click("table[data-table=kpi-region] >> text=浙江省/杭州市")
    expect(page.locator("main h1")).to_have_text("钻取：网点")
    assert "region=%E6%B5%99%E6%B1%9F%E7%9C%81%2F%E6%9D%AD%E5%B7%9E%E5%B8%82" in page.url
    expect(page.locator("table[data-table=kpi-branch] tbody tr")).to_have_count(2)
    page.click("table[data-table=kpi-branch] >> text=城关支行")
    expect(page.locator("main h1")).to_have_text("网点 城关支行")
    page.click("table[data-table=kpi-counter] >> text=1号窗口")
    expect(page.locator("main h1")).to_have_text("城关支行 1号窗口")
    page.go_back()
    teller = page.locator("table[data-table=kpi-teller] td[data-key=group] a").first
    staff = teller.inner_text().split()[1]  # 城关支行 1001 name
    finished = page.locator("table[data-table=kpi-teller] td[data-key=finished] a").first
    count = int(finished.inner_text())
    finished.click()
    expect(page.locator("main h1")).to_have_text("交易查询")
    assert f"teller={staff}" in page.url and "branch=chengguan" in page.url
    rows = page.locator("table[data-table=transactions] tbody tr")
    served_rows = rows.filter(has=page.locator("td[data-key=outcome_name]", has_text="办结"))
    assert served_rows.count() == count  # the figure is the transactions behind it
    assert set(rows.locator("td[data-key=teller]").all_inner_texts()) == {staff}


def test_a_day_of_the_trend_opens_its_transactions(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "zongbu")
    page.goto(f"{site}/?from={FIRST_DAY}&to={LAST_DAY}")
    chart = page.locator("#trend .u-over")
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] / 2)  # the last day
    page.mouse.click(box["x"] + box["width"] - 5, box["y"] + box["height"] / 2)
    expect(page.locator("main h1")).to_have_text("交易查询")
    assert f"from={LAST_DAY}&to={LAST_DAY}" in page.url and "outcome=served" in page.url
    days = page.locator("table[data-table=transactions] td[data-key=business_day]")
    assert days.count() > 0 and set(days.all_inner_texts()) == {str(LAST_DAY)}


def test_filters_stay_in_the_url(browser: Browser, site: str, bank: Bank, capsys) -> None:
    page = signed_in(browser, site, "zongbu")
    page.fill("form.filters input[name=from]", str(LAST_DAY))
    page.select_option("form.filters select[name=branch]", "xihu")
    page.click("form.filters button")
    assert f"from={LAST_DAY}" in page.url and "branch=xihu" in page.url
    page.click("header nav >> text=排名")
    assert f"from={LAST_DAY}" in page.url and "branch=xihu" in page.url
    page.click("header nav >> text=概览")
    args = ["kpi", "--db", str(bank.db), "--config", str(bank.centre_file), "--by", "bank"]
    args += ["--from", str(LAST_DAY), "--to", str(LAST_DAY), "--branch", "xihu", "--format", "json"]
    capsys.readouterr()
    assert cli.main(args) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert card(page, "满意率") == f"{row['satisfaction_rate']:.1%}"
    page.goto(f"/branch/chengguan?{PERIOD}")  # on a branch's page the filter picks the branch
    page.select_option("form.filters select[name=branch]", "haishu")
    page.click("form.filters button")
    expect(page.locator("main h1")).to_have_text("网点 海曙支行")
    assert f"from={FIRST_DAY}" in page.url


def test_acknowledge_an_alert(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "chengguan-mgr")
    page.goto("/alerts?open=1")
    expect(page.locator("[data-live-count]").first).not_to_have_text("-")  # live count polled
    first = page.locator("table[data-table=alerts] tbody tr").first
    alert = first.locator("td[data-key=id]").inner_text()
    before = page.locator("table[data-table=alerts] tbody tr").count()
    first.locator("button[data-ack]").click()
    expect(page.locator("table[data-table=alerts] tbody tr")).to_have_count(before - 1)
    page.goto("/alerts")
    row = page.locator(
        "table[data-table=alerts] tbody tr", has=page.locator(f"td[data-key=id]:text-is('{alert}')")
    )
    expect(row.locator("td[data-key=acked_by]")).to_have_text("chengguan-mgr")


def test_new_alerts_and_device_status_show_without_reloading(browser: Browser, bank: Bank) -> None:
    with served(bank, Clock(), poll=timedelta(milliseconds=300)) as site:
        page = signed_in(browser, site, "chengguan-mgr")
        page.goto("/alerts?open=1")
        rows = page.locator("table[data-table=alerts] tbody tr")
        expect(page.locator("[data-live-count]").first).not_to_have_text("-")
        before, count = rows.count(), int(page.locator("[data-live-count]").first.inner_text())
        page.evaluate("window.sameDocument = true")  # gone if the page were loaded again
        with contextlib.closing(sqlite3.connect(bank.db)) as db, db:  # as the ingest raises one
            raise_alert(
                db.execute, key="test-live", branch="chengguan", kind="bad_rating",
                subject="1001", at=NOW, message="测试：客户非常不满意", evidence=[], now=NOW,
            )  # fmt: skip
        expect(rows).to_have_count(before + 1)
        expect(page.locator("table[data-table=alerts]")).to_contain_text("测试：客户非常不满意")
        expect(page.locator("[data-live-count]").first).to_have_text(str(count + 1))
        page.goto("/devices")
        device = page.locator("table[data-table=devices] tbody tr").first
        name = device.locator("td[data-key=device_id]").inner_text()
        expect(device.locator("td[data-key=status_name]")).not_to_have_text("离线")
        page.evaluate("window.sameDocument = true")
        with CentralStore(str(bank.db), centre=bank.centre) as store:
            offline = Status(name, "offline", at="2026-11-26T02:00:00+00:00", reason="test")
            store.set_status("chengguan", offline, NOW)
        row = page.locator(
            "table[data-table=devices] tbody tr",
            has=page.locator(f"td[data-key=device_id]:text-is('{name}')"),
        )
        expect(row.locator("td[data-key=status_name]")).to_have_text("离线")
        assert page.evaluate("window.sameDocument") is True
        # a device's last report changes with every batch: shown in place, the table not fetched
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url) if "/devices" in r.url else None)
        with contextlib.closing(sqlite3.connect(bank.db)) as db, db:
            db.execute("UPDATE devices SET last_seen = ? WHERE device_id = ?",
                       ("2026-11-26T09:59:00+08:00", name))  # fmt: skip
        expect(row.locator("td[data-key=last_seen]")).to_have_text("2026-11-26 09:59")
        page.wait_for_timeout(1000)  # three more polls
        assert fetched == [] and page.evaluate("window.sameDocument") is True


def test_close_a_follow_up_item(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "chengguan-mgr")
    page.goto(f"/followup?which=open&{PERIOD}")
    page.locator("table[data-table=followup] td[data-key=id] a").first.click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "open")
    page.fill("input[data-field=note]", "已电话联系客户")
    page.click("button[data-action=note]")
    page.fill("input[data-field=close]", "柜员已致歉，客户满意")
    page.click("button[data-action=close]")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "closed")
    expect(page.locator("table[data-table=history]")).to_contain_text("柜员已致歉，客户满意")


def test_the_downloaded_xlsx_equals_centre_kpi(
    browser: Browser, site: str, bank: Bank, tmp_path: Path, capsys
) -> None:
    page = signed_in(browser, site, "chengguan-mgr")
    page.goto(f"/branch/chengguan?{PERIOD}")
    section = page.locator("section.table", has=page.locator("table[data-table=kpi-teller]"))
    with page.expect_download() as info:
        section.locator(".downloads >> text=XLSX").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    header, *rows = load_workbook(path)["data"].iter_rows(values_only=True)
    exported = [dict(zip(header, r, strict=True)) for r in rows]
    expected = kpi(bank, "teller", "chengguan", capsys=capsys)
    assert [r["teller"] for r in exported] == [r["teller"] for r in expected]
    for got, want in zip(exported, expected, strict=True):
        for key in ("finished", "rated", "ratings", "satisfied", "no_shows", "over_limit"):
            assert got[key] == want[key]
        for key in ("satisfaction_rate", "satisfaction_low", "evaluation_rate", "wait_p90_s"):
            assert (
                got[key] == pytest.approx(want[key], rel=1e-12)
                if want[key] is not None
                else got[key] is None
            )


def test_no_page_is_wider_than_a_phone(browser: Browser, site: str) -> None:
    """At 390 px every page fits the screen's width: wide tables scroll in their own box."""
    from tests.screenshots import PAGES

    page = browser.new_context(
        base_url=site, viewport={"width": 390, "height": 844}, locale="zh-CN"
    ).new_page()
    page.goto("/login")
    page.fill("input[name=name]", "zongbu")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    expect(page.locator("main h1")).to_have_text("概览")
    wide = {}
    for name, path in PAGES:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[name] = width
    assert wide == {}
