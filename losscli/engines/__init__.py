"""Engines: where the reductions run. Each gives the same answer (SPEC §5)."""
