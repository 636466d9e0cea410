"""Simulation of whole branches over the real system: ``counterside demo`` and ``simulate``."""
