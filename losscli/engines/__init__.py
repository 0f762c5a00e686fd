"""Engines: where the reductions run. Each gives the same answer (SPEC §5).

An engine is handed a pass's work — the data's pieces or tasks, the fold of one into a
state, the state factory and a progress callback — and knows nothing else of the core:
`local` streams pieces through a thread pool, `dask` maps tasks over a cluster. Which one
a run uses is opened by `losscli.run.open_engine`.
"""
