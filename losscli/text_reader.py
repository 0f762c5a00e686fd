"""Text files (CSV, TSV, gzip, stdin) read block by block through `pyarrow.csv.open_csv`:
the column types from the first block, blocks grown for a row longer than one, and the
row, line and reason of a parse error located for its message."""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator

from losscli.errors import InputError
from losscli.sources import (
    CSV_BLOCK_BYTES,
    GZIP_ERRORS,
    TEXT_BATCH_ROWS,
    DataFile,
    encoding_name,
    first_line,
    not_decodable,
    open_binary,
)

# a row longer than a block is read again with blocks this many times larger, up to the cap
BLOCK_GROWTH, MAX_BLOCK_BYTES = 4, 1 << 24


def _raw_columns(f: DataFile, columns: list[str]) -> list[str]:
    """The needed columns as the header writes them (names are matched trimmed)."""
    if not f.raw_names:
        return columns
    return [f.raw_names[f.names.index(c)] if c in f.names else c for c in columns]


def _open_text(f: DataFile, columns: list[str], types: dict,
               block: int = CSV_BLOCK_BYTES):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw_cols = _raw_columns(f, columns)
    opened = open_binary(f.source)
    raw = pa.OSFile(opened) if isinstance(opened, str) else pa.PythonFile(opened, mode="r")
    if f.gzip:
        raw = pa.CompressedInputStream(raw, "gzip")
    try:
        reader = pacsv.open_csv(
            raw,
            read_options=pacsv.ReadOptions(block_size=block, use_threads=True,
                                           encoding=f.encoding),
            parse_options=pacsv.ParseOptions(delimiter=f.sep),
            convert_options=pacsv.ConvertOptions(
                include_columns=raw_cols, strings_can_be_null=True,
                column_types={r: types[c] for c, r in zip(columns, raw_cols, strict=True)
                              if c in types}),
        )
    except BaseException:
        raw.close()
        raise
    return raw, reader


# what reading text can raise besides ArrowInvalid: a header pyarrow reads differently
# (KeyError), bad bytes, a corrupt gzip stream
def _read_errors():
    import pyarrow as pa

    return (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowKeyError, OSError, EOFError,
            UnicodeDecodeError, zlib.error)


def column_types(f: DataFile, columns: list[str], offset: int = 0) -> dict:
    """The types to read the needed columns as, fixed for the whole file: pyarrow infers
    types per block, so a column of integers in the first block and 2.5 in a later one
    would fail. Numbers are read as float64; text, booleans and the rest as the first
    block shows them."""
    import pyarrow as pa

    block = f.block
    while True:
        try:
            raw, reader = _open_text(f, columns, {}, block)
            try:
                schema = reader.schema
            finally:
                raw.close()
            break
        except _read_errors() as exc:
            if _straddles(exc) and block < MAX_BLOCK_BYTES:
                block = f.block = block * BLOCK_GROWTH  # later passes start there
                continue
            raise _text_error(f, exc, 0, offset) from None
    types = {}
    for c, r in zip(columns, _raw_columns(f, columns), strict=True):
        t = schema.field(r).type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            # bytes that are not text in the file's encoding: say where
            raise (_locate_undecodable(f) or InputError(
                f"is not {encoding_name(f.encoding)} text; pass its --encoding",
                file=f.path, column=c))
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            types[c] = pa.float64()
        elif pa.types.is_null(t):
            types[c] = pa.string()
        else:
            types[c] = t
    return types


def _straddles(exc: BaseException) -> bool:
    """pyarrow's error for a row longer than its read block."""
    return "straddl" in str(exc)


def _text_error(f: DataFile, exc: BaseException, rows_before: int,
                start_offset: int) -> InputError:
    """One line for a text file that cannot be read: what is wrong, and the row where it
    can be found (rows_before: the rows read from this file without error)."""
    text = first_line(str(exc))
    fmt = f.format.upper()
    if _straddles(exc):
        return InputError(f"a row after row {rows_before:,} is longer than "
                          f"{MAX_BLOCK_BYTES >> 20} MiB: it is not a {fmt} row",
                          file=f.path)
    if f.gzip and (isinstance(exc, (EOFError, zlib.error)) or "compress" in text.lower()
                   or "zlib" in text.lower() or "gzip" in text.lower()):
        return InputError(f"is not valid gzip data ({text}); the rows before row "
                          f"{rows_before + 1:,} were readable", file=f.path)
    if "Expected" in text and "columns, got" in text:
        found = _locate_ragged(f)
        if found is not None:
            row, fields, expected = found
            return InputError(f"has {fields} fields, the header has {expected}",
                              file=f.path, row=start_offset + row,
                              file_row=row)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "utf8" in text.lower():
        found = _locate_undecodable(f)
        if found is not None:
            return found
    if isinstance(exc, KeyError):
        return InputError(f"its header cannot be matched to its columns ({text})",
                          file=f.path)
    return InputError(f"cannot be read as {fmt}: {text}", file=f.path)


def _text_lines(f: DataFile):
    """The file as text (gzip and encoding undone), for the error paths' re-reading."""
    import io

    opened = open_binary(f.source)
    fh = open(opened, "rb") if isinstance(opened, str) else opened
    if f.gzip:
        fh = gzip.open(fh, "rb")
    encoding = "utf-8-sig" if f.encoding == "utf-8" else f.encoding
    return io.TextIOWrapper(fh, encoding=encoding, newline="")


def _locate_ragged(f: DataFile) -> tuple[int, int, int] | None:
    """(1-based data row, its fields, the header's fields) of the first row whose number
    of fields is not the header's (error path only: Python's csv reads the file again).
    Blank lines are skipped, as the reader skips them."""
    try:
        with _text_lines(f) as text:
            rows = csv.reader(text, delimiter=f.sep)
            expected = len(next(rows))
            row = 0
            for fields in rows:
                if not fields:
                    continue
                row += 1
                if len(fields) != expected:
                    return row, len(fields), expected
    except (csv.Error, *GZIP_ERRORS, UnicodeDecodeError, StopIteration):
        return None
    return None


def _locate_undecodable(f: DataFile) -> InputError | None:
    """The first line that is not text in the file's encoding (error path only)."""
    encoding = "utf-8-sig" if f.encoding == "utf-8" else f.encoding
    try:
        opened = open_binary(f.source)
        fh = open(opened, "rb") if isinstance(opened, str) else opened
        with (gzip.open(fh, "rb") if f.gzip else fh) as lines:
            for number, line in enumerate(lines, 1):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError as exc:
                    return InputError(not_decodable(f.format, f.encoding, number, exc),
                                      file=f.path)
                encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    except GZIP_ERRORS:
        return None
    return None


def text_batches(f: DataFile, columns: list[str], batch_rows: int | None, offset: int,
                  counter) -> Iterator[tuple[int, object]]:
    """The file's batches; a row longer than the read block restarts the reading with
    larger blocks (up to MAX_BLOCK_BYTES), skipping the rows already given."""
    try:
        yield from _text_blocks(f, columns, batch_rows, offset, counter)
    except InputError as exc:
        raise exc.in_file(offset + 1) from None


def _text_blocks(f: DataFile, columns: list[str], batch_rows: int | None, offset: int,
                 counter) -> Iterator[tuple[int, object]]:
    types = column_types(f, columns, offset)
    if f.thousands:  # numbers as text, so that "6,000" reaches the converter
        import pyarrow as pa

        types = {c: pa.string() if t == pa.float64() else t for c, t in types.items()}
    block = f.block
    start_offset = offset
    while True:
        try:
            raw, reader = _open_text(f, columns, types, block)
        except _read_errors() as exc:
            if _straddles(exc) and block < MAX_BLOCK_BYTES:
                block = f.block = block * BLOCK_GROWTH
                continue
            raise _text_error(f, exc, offset - start_offset, start_offset) from None
        try:
            for start, table in _text_loop(f, reader, raw, types, columns, batch_rows,
                                           start_offset, counter, offset - start_offset,
                                           block):
                yield start, table
                offset = start + table.num_rows
            return
        except _Longer:
            block = f.block = block * BLOCK_GROWTH
        finally:
            raw.close()


class _Longer(Exception):
    """A row is longer than the read block (read again with larger blocks)."""


def _text_loop(f: DataFile, reader, raw, types: dict, columns: list[str],
               batch_rows: int | None, offset: int, counter, skip: int = 0,
               block: int = MAX_BLOCK_BYTES) -> Iterator[tuple[int, object]]:
    import pyarrow as pa

    target = batch_rows or TEXT_BATCH_ROWS
    pending: list = []
    held = 0
    last_pos = 0
    start_offset = offset
    read = 0  # rows read from the file, those skipped included
    while True:
        try:
            rb = reader.read_next_batch()
        except StopIteration:
            break
        except _read_errors() as exc:
            if _straddles(exc) and block < MAX_BLOCK_BYTES:
                raise _Longer from None
            text = str(exc)
            if "conversion error" in text:
                _locate_text(f, columns, types, start_offset)
            raise _text_error(f, exc, read, start_offset) from None
        # the header's names as written → the names the columns were asked by
        rb = pa.RecordBatch.from_arrays(rb.columns, names=columns)
        read += rb.num_rows
        if skip:  # rows given before a restart with larger blocks
            drop = min(skip, rb.num_rows)
            skip -= drop
            offset += drop
            rb = rb.slice(drop)
            if not rb.num_rows:
                continue
        pending.append(rb)
        held += rb.num_rows
        if held >= target:
            table = pa.Table.from_batches(pending)
            pending, held = [], 0
            for start in range(0, table.num_rows, target):
                part = table.slice(start, target)
                if part.num_rows < target:
                    pending, held = [b for b in part.to_batches()], part.num_rows
                    break
                yield offset, part
                offset += part.num_rows
            if counter is not None:
                pos = _tell(raw)
                counter(pos - last_pos)
                last_pos = pos
    if pending:
        yield offset, pa.Table.from_batches(pending)
    if counter is not None:
        counter(max(_tell(raw) - last_pos, 0))


def _locate_text(f: DataFile, columns: list[str], types: dict, offset: int) -> None:
    """A later block held text where the first had numbers: read the file again as text
    to name the first such row (only on this error path)."""
    import pyarrow as pa

    from losscli.batches import numeric

    wanted = [c for c in columns if types.get(c) == pa.float64()]
    raw, reader = _open_text(f, columns, {c: pa.string() for c in columns})
    row = offset
    try:
        for rb in reader:
            rb = pa.RecordBatch.from_arrays(rb.columns, names=columns)
            for c in wanted:
                numeric(rb.column(c), f.path, c, row, f.thousands)  # raises at the first
            row += rb.num_rows
    except _read_errors():
        return  # unreadable for another reason: the caller's error says which
    finally:
        raw.close()


def _tell(raw) -> int:
    try:
        return int(raw.tell())
    except (OSError, ValueError):
        return 0
