"""Run the benchmarks: ``python -m bench [NAME ...] [OPTIONS]``.

With no NAME every registered benchmark runs; OPTIONS (such as ``--events N``) go to each one.
Each benchmark module has ``main(argv) -> int`` and can also run alone: ``python -m bench.NAME``.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "store_append", "counter_frame", "sync_drain", "wire_parse", "centre_ingest", "centre_kpi",
    "dashboard",
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHMARKS))
        return 0
    names = []
    while args and args[0] in BENCHMARKS:
        names.append(args.pop(0))
    status = 0
    for name in names or BENCHMARKS:
        print(f"== bench.{name} ==", flush=True)
        module = importlib.import_module(f"bench.{name}")
        status = max(status, module.main(args))
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
