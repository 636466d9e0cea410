"""pygame screens: evaluation pad, teller console, hall board, ticket kiosk.

Each screen (``PadScreen``, ``ConsoleScreen``, ``BoardScreen``, ``KioskScreen``) draws a frozen
view model from :mod:`screens.views` onto any ``pygame.Surface`` with ``render(surface, view)``,
laid out from the surface size, and answers ``hit_test(pos)`` for the last frame drawn.
:mod:`screens.build` fills the configured parts of the views; ``python -m screens.gallery``
renders every screen to PNG. Constructing a screen finds a Chinese font or raises
:class:`screens.text.FontNotFound` naming the Debian package to install.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
