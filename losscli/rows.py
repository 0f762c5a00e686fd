"""Where a row of the data set is: its file, and its row within that file.

Rows are numbered from 1 across the files of a data set, in the order they are read
(SPEC §5); messages name the file's own row too. `run` is anything with `inp.files` (each
with a `path`), `inp.spec` (the names as given) and `scan` (None before pass 1, else with
`file_rows`: {path: rows read})."""

from __future__ import annotations


def where(run, row: int) -> tuple[str, int | None]:
    """The file a 1-based global row is in, and its row within that file (None when the
    files' rows are not known yet)."""
    files = run.inp.files
    if len(files) == 1:
        return files[0].path, row
    if run.scan is not None:
        end = 0
        for f in files:
            n = run.scan.file_rows.get(f.path, 0)
            if row <= end + n:
                return f.path, row - end
            end += n
    return ", ".join(map(str, run.inp.spec)), None


def file_of(run, row: int | None = None) -> str:
    """The file a 1-based global row is in (the data set's files when it is not known)."""
    files = run.inp.files
    if len(files) == 1:
        return files[0].path
    if row:
        return where(run, row)[0]
    return ", ".join(map(str, run.inp.spec))


def at_row(run, row: int) -> dict:
    """An InputError's file, row and row within its file, for a 1-based global row."""
    file, file_row = where(run, row)
    return {"file": file, "row": row, "file_row": file_row}


def row_text(run, row: int) -> str:
    """ "row N", and with several files "row n of FILE (row N of the data set)"."""
    file, file_row = where(run, row)
    if file_row is None or len(run.inp.files) == 1:
        return f"row {row:,}"
    return f"row {file_row:,} of {file} (row {row:,} of the data set)"


def located(run, row: int) -> str:
    """Where a 1-based global row is, as errors say it: "FILE, row N", and with several
    files "FILE, row n (row N of the data set)"."""
    at = at_row(run, row)
    if at["file_row"] is None or at["file_row"] == row:
        return f"{at['file']}, row {row:,}"
    return f"{at['file']}, row {at['file_row']:,} (row {row:,} of the data set)"
