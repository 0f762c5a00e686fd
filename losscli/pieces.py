"""A data set cut for the engines: tasks (one per Parquet row group, from the footers, or
per text file) and pieces (the batches the local engine streams, in order)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from losscli.sources import DataFile, Input, parquet_file
from losscli.text_reader import text_batches


@dataclass
class Piece:
    """Some rows of one file: `read()` returns them as a pyarrow Table of the needed
    columns. `offset` is the global 0-based row number of the first of them."""

    file: DataFile
    offset: int
    rows: int | None
    read: Callable[[], object] = field(repr=False)
    file_offset: int = 0  # global 0-based row of the first row of its file


@dataclass(frozen=True)
class Task:
    """What an engine hands to a worker: one Parquet row group, or one text file (text
    cannot be split without a reader that respects quoted newlines). `offset` is the
    global 0-based row of its first row; None for a text file that follows another text
    file, whose rows are known only once the earlier ones are read."""

    file: DataFile
    offset: int | None
    row_group: int | None = None
    rows: int | None = None
    nbytes: int | None = None  # compressed bytes of the needed columns (Parquet)
    file_offset: int | None = None  # global 0-based row of its file's first (Parquet)


def tasks(inp: Input, columns: list[str]) -> list[Task]:
    """Every task of the data set, in order, planned from the Parquet footers."""
    out: list[Task] = []
    offset: int | None = 0
    for f in inp.files:
        if f.format == "parquet":

            with parquet_file(f.source) as pf:
                meta = pf.metadata
            first = offset
            for i, n in enumerate(f.row_groups or []):
                out.append(Task(f, offset, i, n, _column_bytes(meta, i, columns),
                                file_offset=first))
                offset = None if offset is None else offset + n
        else:
            out.append(Task(f, offset))
            offset = None  # the rows of a text file are known once it is read
    return out


def read_task(task: Task, columns: list[str], batch_rows: int | None,
              offset: int | None = None,
              counter: Callable[[int], None] | None = None) -> Iterator[tuple[int, object]]:
    """(global offset, pyarrow Table) for each batch of the task, in order: a row group
    whole, or in slices of `batch_rows` when it is larger; a text file block by block."""
    start = task.offset if offset is None else offset
    f = task.file
    if f.format != "parquet":
        yield from text_batches(f, columns, batch_rows, start, counter)
        return
    import pyarrow as pa

    with parquet_file(f.source) as pf:  # a handle per task: safe on any thread
        if batch_rows is None or (task.rows or 0) <= batch_rows:
            yield start, pf.read_row_group(task.row_group, columns=columns,
                                           use_threads=False)
            return
        for rb in pf.iter_batches(batch_size=batch_rows, row_groups=[task.row_group],
                                  columns=columns, use_threads=False):
            yield start, pa.Table.from_batches([rb])
            start += rb.num_rows


def pieces(inp: Input, columns: list[str], batch_rows: int | None,
           counter: Callable[[int], None] | None = None) -> Iterator[Piece]:
    """Every batch of the data set in order, for the local engine: a Parquet row group
    read lazily (a thread of the engine reads it), slices of a larger one and text
    blocks read here, in order. `counter(bytes)` is told the bytes read."""
    offset = 0
    current, file_offset = None, 0
    for task in tasks(inp, columns):
        if task.file is not current:
            current, file_offset = task.file, offset
        if task.file.format == "parquet" and (batch_rows is None
                                              or task.rows <= batch_rows):
            def read(task=task) -> object:
                return next(read_task(task, columns, batch_rows))[1]

            if counter is not None:
                counter(task.nbytes or 0)
            yield Piece(task.file, offset, task.rows, read, file_offset)
            offset += task.rows
            continue
        if counter is not None and task.nbytes is not None:
            counter(task.nbytes)
        for start, table in read_task(task, columns, batch_rows, offset,
                                      None if task.nbytes is not None else counter):
            yield Piece(task.file, start, table.num_rows, lambda t=table: t, file_offset)
            offset = start + table.num_rows


def _column_bytes(meta, i: int, columns: list[str]) -> int:
    """Compressed bytes of the needed column chunks of row group i."""
    rg = meta.row_group(i)
    wanted = set(columns)
    return sum(rg.column(j).total_compressed_size for j in range(rg.num_columns)
               if rg.column(j).path_in_schema.split(".")[0] in wanted)
