"""Hardware drivers (GPIO keys, serial keypads and LED displays, audio, printer) and their simulated twins."""
