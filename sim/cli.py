"""``counterside demo`` (the whole system on this machine) and ``counterside simulate`` (many
branches for a load test): their command lines."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a day is YYYY-MM-DD, not {text!r}") from None


def demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="counterside demo",
        description="The whole system on this machine: broker (TLS, ACL), centre, a branch's "
        "controller, kiosk, board and four counters as processes, simulated customers "
        "(docs/demo.md).",
    )
    p.add_argument("--data", type=Path, default=Path("var/demo"), help="default: var/demo")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument("--hours", type=float, help="stop after this many simulated hours")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--windows", action="store_true", help="real windows (default: headless)")
    p.add_argument("--port", type=int, default=0, help="the broker's port (default: a free one)")
    p.add_argument("--day", type=_day, help="the first run's day, YYYY-MM-DD (default: today)")
    p.add_argument(
        "--startup", type=float, default=20.0, help="seconds the apps get to start (default 20)"
    )
    return p


def simulate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="counterside simulate",
        description="Many branches' business day through a real broker and centre (a load "
        "test); writes the ground truth to DATA/truth.jsonl.",
    )
    p.add_argument("--data", type=Path, default=Path("var/simulate"))
    p.add_argument("--branches", type=int, default=20)
    p.add_argument("--counters", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--day", type=_day, required=True, help="the business day, YYYY-MM-DD")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="simulating processes")
    p.add_argument("--port", type=int, default=0, help="the broker's port (default: a free one)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the centre")
    return p


def main(command: str, argv: Sequence[str]) -> int:
    if command == "simulate":
        from sim import fleet

        args = simulate_parser().parse_args(argv)
        return fleet.run(args.data, branches=args.branches, counters=args.counters,
                         seed=args.seed, day=args.day, workers=args.workers,
                         port=args.port or None, timeout=args.timeout)  # fmt: skip
    from sim.demo import run as run_demo

    return run_demo(demo_parser().parse_args(argv))
