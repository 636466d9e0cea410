"""Counter device domain: tickets, queue, counter sessions, rating rules, timing, store."""
