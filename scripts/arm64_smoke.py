"""The smoke test that scripts/check-arm64.sh runs inside a Raspberry Pi OS (bookworm, arm64) root
file system, with the installed virtual environment: the counter app draws frames with Chinese
text, its store appends (hash chain intact), and its events sync to the broker and centre that
run on the host, acknowledged end to end.

    /opt/counterside/.venv/bin/python scripts/arm64_smoke.py CONFIG DB PNG

Prints one line per check and exits 1 at the first that fails.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def check(ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        sys.exit(1)


def main(config_path: str, db: str, png: str) -> None:
    import pygame

    from config.loader import load_config
    from device.launch import launch
    from device.store import EventStore
    from domain.branch import Key
    from domain.counter import Teller
    from screens.text import default_fonts

    expected = os.environ.get("SMOKE_ARCH", "aarch64")  # another, to try the script elsewhere
    check(platform.machine() == expected, f"running on {platform.machine()}")
    config = load_config(config_path)
    started = time.monotonic()
    launched = launch(
        config, db=Path(db), panels=["pad", "console"], counter=1,
        teller=Teller("1001", "王芳"), silent=True,
    )  # fmt: skip
    app = launched.app
    try:
        for _ in range(3):
            app.step()
        app.press("console", Key.SIGN_IN.value, Teller("1001", "王芳"))
        for _ in range(5):
            app.step()
        surface = pygame.display.get_surface()
        pygame.image.save(surface, png)
        drawn = time.monotonic() - started
        fonts = default_fonts()
        masks = [pygame.mask.from_surface(fonts.render(c, 48, (255, 255, 255))) for c in "满意"]
        distinct = masks[0].count() > 0 and masks[0].overlap_area(masks[1], (0, 0)) < min(
            m.count() for m in masks
        )
        check(distinct, f"Chinese glyphs render (frames drawn in {drawn:.1f} s, {png})")
        last = launched.store.last_seq()
        check(last > 0, f"the store appended {last} events")
        deadline = time.monotonic() + 120
        while launched.store.acked_seq() < last and time.monotonic() < deadline:
            app.step()
            time.sleep(0.2)
        acked = launched.store.acked_seq()
        check(acked >= last, f"synced: the centre acknowledged {acked} of {last} events")
    finally:
        launched.close()
    with EventStore(db, config.device.device_id) as store:
        report = store.verify()
        check(report.ok, f"hash chain intact over {report.events} events")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
