"""Run a derandomized Hypothesis guard in a fresh interpreter, so that it is the same run wherever
pytest runs it.

Hypothesis also draws the literal constants of the project's modules that are imported when it
generates (its "local constants"), so a derandomized run depends on which modules the process
has imported: in the suite, on the tests that ran before it. In a new interpreter that imports
just the guard's module it is the same run alone and in the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 600


def run_fresh(module: str, function: str) -> Any:
    """``module.function()`` called in a new interpreter; its result went through JSON."""
    code = f"import json, {module} as m; print(json.dumps(m.{function}()))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])
