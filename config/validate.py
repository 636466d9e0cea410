"""Turn a merged tree into a :class:`Config`, or raise :class:`ConfigError` with every problem."""

from __future__ import annotations

import dataclasses

from config.checker import Checker
from config.declare import read_table
from config.errors import ConfigError
from config.layers import Layers
from config.layout import ROOT
from config.model import Config


def build_config(layers: Layers) -> Config:
    """Read the merged tree in ``layers`` by the declared layout; raise listing every problem."""
    c = Checker(layers)
    config = read_table(c, ROOT, layers.data, ()).model
    if c.problems:
        raise ConfigError(c.problems)
    return dataclasses.replace(config, sources=tuple(layers.files))
