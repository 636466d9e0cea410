"""Hardware drivers (keys, serial keypads, LED displays, audio, printer) and simulated twins."""
