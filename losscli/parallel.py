"""Blocks of an in-memory array on every core (the fits on the seeded sample use it)."""

from losscli.engines.local import map_blocks, split_size, workers

__all__ = ["map_blocks", "split_size", "workers"]
