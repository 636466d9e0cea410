"""Configuration files of a simulated branch's devices, written over the shipped defaults.

One ``branch.toml`` per branch (its id, name and counters) and one file per device (its id,
roles, counter and ``[mqtt]`` with its certificate), as a real branch would have them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

SERVES = (
    ("cash", "general"),
    ("general", "inquiry", "cash"),
    ("corporate", "general"),
    ("cash", "inquiry", "general"),
)
"""The business types of counters 1, 2, 3, 4 (then again from 1)."""


def _q(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string or array of them


def branch_toml(branch: str, name: str, counters: int) -> str:
    lines = ["[branch]", f"name = {{ zh = {_q(name)}, en = {_q(name)} }}", ""]
    for n in range(1, counters + 1):
        lines += [
            "[[counters]]",
            f"number = {n}",
            f'name = {{ zh = "{n}号窗口", en = "Window {n}" }}',
            f"business_types = {_q(list(SERVES[(n - 1) % len(SERVES)]))}",
            "",
        ]
    return "\n".join(lines)


def centre_toml(branches: Sequence[tuple[str, str, str, str]]) -> str:
    """The centre's configuration naming ``branches``: (id, name, region, the branch's file
    relative to this one) each."""
    lines: list[str] = []
    for branch, name, region, branch_file in branches:
        lines += ["[[branches]]", f"id = {_q(branch)}", f"name = {_q(name)}",
                  f"region = {_q(region)}", f"config = {_q(branch_file)}", ""]  # fmt: skip
    return "\n".join(lines)


def device_toml(
    branch: str,
    device: str,
    roles: tuple[str, ...],
    counter: int,
    *,
    mqtt: tuple[str, int, Path, Path, Path] | None = None,
) -> str:
    """``mqtt``: (host, port, CA, certificate, key)."""
    lines = [
        "[device]",
        f"branch_id = {_q(branch)}",
        f"device_id = {_q(device)}",
        f"roles = {_q(list(roles))}",
        f"counter = {counter}",
        "",
    ]
    if mqtt is not None:
        host, port, ca, cert, key = mqtt
        lines += [
            "[mqtt]",
            "enabled = true",
            f"host = {_q(host)}",
            f"port = {port}",
            f"ca = {_q(str(ca))}",
            f"cert = {_q(str(cert))}",
            f"key = {_q(str(key))}",
            "heartbeat_s = 10",
            "",
        ]
    return "\n".join(lines)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
