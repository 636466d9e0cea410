"""The ``counterside`` command as a user runs it: real subprocesses, real store files."""

import csv
import io
import subprocess
import sys
from pathlib import Path

from config.loader import example_config_path
from device.store import EventStore

REPO = Path(__file__).resolve().parents[1]


def counterside(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "COUNTERSIDE_CONFIG": ""}
    if env_db:
        env["COUNTERSIDE_DB"] = str(env_db)
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def test_config_check_accepts_the_example_and_names_the_problem_in_a_bad_file(tmp_path):
    good = counterside("config", "check", str(example_config_path()))
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("ok: ") and "branch-example.toml" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[queue]\nnumber_digits = 6\n", encoding="utf-8")
    result = counterside("config", "check", str(bad))
    assert result.returncode == 2
    assert f"{bad}: queue.number_digits: must be between 2 and 5, got 6" in result.stderr


def test_store_init_then_reports_an_empty_store(tmp_path):
    db = tmp_path / "dev.sqlite"
    result = counterside("store", "init", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "schema version" in result.stdout and "0 events" in result.stdout
    assert db.exists()


def test_today_without_a_store_says_how_to_make_one(tmp_path):
    result = counterside("today", "--db", str(tmp_path / "none.sqlite"))
    assert result.returncode == 3 and "counterside store init" in result.stderr


def test_demo_then_today_and_both_exports(tmp_path):
    db = tmp_path / "demo.sqlite"
    demo = counterside("demo-branch", "--customers", "10", "--seed", "3", "--db", str(db))
    assert demo.returncode == 0, demo.stderr
    assert "ticket.issued" in demo.stdout and "请A001号到" in demo.stdout
    assert "transaction.closed" in demo.stdout

    today = counterside("today", env_db=db)
    assert today.returncode == 0, today.stderr
    assert "wait/limit" in today.stdout and "transactions," in today.stdout

    events = counterside("export", "events", "--all", "--db", str(db))
    rows = list(csv.DictReader(io.StringIO(events.stdout)))
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    assert {"ticket.issued", "transaction.closed", "rating.press"} <= {r["type"] for r in rows}

    out = tmp_path / "tx.csv"
    tx = counterside("export", "transactions", "--all", "--db", str(db), "--out", str(out))
    assert tx.returncode == 0, tx.stderr
    with out.open(encoding="utf-8") as f:
        transactions = list(csv.DictReader(f))
    closed = sum(1 for r in rows if r["type"] == "transaction.closed")
    assert len(transactions) == closed > 0
    assert {r["outcome"] for r in transactions} <= {"served", "no_show", "transferred"}
    assert all(r["wait_limit_s"] for r in transactions)


def test_counter_kiosk_and_board_start_draw_and_stop_headless(tmp_path):
    import os

    for command in (["counter", "--counter", "2"], ["kiosk"], ["board"]):
        db = tmp_path / f"{command[0]}.sqlite"
        env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "device.cli",
                *command,
                "--frames",
                "3",
                "--silent",
                "--db",
                str(db),
                "--size",
                "400x240",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **env, "COUNTERSIDE_CONFIG": ""},
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("3 frames") and db.exists()
        with EventStore(db, "demo-counter-1") as store:  # stand-alone: its powered minutes too
            assert store.events(types="device.heartbeat"), command


def test_a_counter_that_is_not_configured_is_refused(tmp_path):
    result = counterside("counter", "--counter", "99", "--db", str(tmp_path / "x.sqlite"))
    assert result.returncode != 0 and "counter 99 is not configured" in result.stderr


def test_store_verify_finds_a_deleted_bad_rating(tmp_path):
    """A shell on the Pi deletes a transaction's record before it syncs: the chain tells."""
    import sqlite3

    db = tmp_path / "demo.sqlite"
    made = counterside("demo-branch", "--customers", "6", "--seed", "5", "--db", str(db))
    assert made.returncode == 0
    whole = counterside("store", "verify", "--db", str(db))
    assert whole.returncode == 0 and "the chain is whole" in whole.stdout, whole.stdout
    conn = sqlite3.connect(db)
    (seq,) = conn.execute(
        "SELECT min(seq) FROM events WHERE type = 'transaction.closed'"
    ).fetchone()
    conn.execute("DROP TRIGGER events_no_unacked_delete")
    conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    broken = counterside("store", "verify", "--db", str(db))
    assert broken.returncode == 1 and f"seq {seq}..{seq}: missing (deleted)" in broken.stdout


LAUNCH_AND_CLOSE = """
import gc, sys
from pathlib import Path
from config.loader import load_config
from device.launch import launch
from domain.counter import Teller

launched = launch(load_config(), db=Path(sys.argv[1]), panels=["pad", "console"], counter=1,
                  teller=Teller("1001", "T"), size=(400, 240), silent=True)
launched.app.step()
print(gc.get_freeze_count() > 1000, end=" ")
launched.close()
print(gc.get_freeze_count())
"""


def test_what_start_up_made_is_left_out_of_collections_until_the_app_closes(tmp_path):
    import os

    env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "COUNTERSIDE_CONFIG": ""}
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH_AND_CLOSE, str(tmp_path / "pad.sqlite")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "0"]
