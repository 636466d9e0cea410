"""The pure domain of a service counter: tickets, the queue, counter sessions, ratings, timing,
business days, the clock and the typed events they produce. No I/O: every action takes an
instant and returns events; the running device app (``device/``) stores and shows them."""
