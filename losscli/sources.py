"""Where the rows come from: files, globs, directories of Parquet parts and stdin, read
as batches of only the needed columns (SPEC §2, §5).

Several inputs are one data set, read in sorted order; rows are numbered across them
(1-based data rows, the header not counted). Parquet is read one row group at a time
(`read_row_group`; a row group larger than the batch size in slices), never through
`ParquetFile.iter_batches()` over the whole file, whose memory is not bounded. CSV, TSV,
gzip and stdin stream block by block through `pyarrow.csv.open_csv`.

This module opens the inputs (formats, headers, encodings, URLs, spooled data);
`text_reader` reads text files block by block and `pieces` cuts a data set into the
tasks and pieces an engine reduces.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import glob
import gzip
import os
import sys
import zlib
from dataclasses import dataclass, field

from losscli.errors import InputError, UsageError

FORMATS = ("csv", "tsv", "parquet")
TEXT_BATCH_ROWS = 1 << 20  # rows per batch from text files (and the default slice size)
# pyarrow parses text in blocks of this size; larger blocks are not faster here, and its
# reader holds ~25 of them (16 MiB blocks held 450 MiB for a 900 MB CSV, 1 MiB ones 36 MiB)
CSV_BLOCK_BYTES = 1 << 20
HEADER_LIMIT = 1 << 24  # bytes of a header line: longer is not a table
GZIP_MAGIC, PARQUET_MAGIC = b"\x1f\x8b", b"PAR1"
# gzip's and zlib's own exceptions are not OSError (zlib.error) or are EOFError
GZIP_ERRORS = (OSError, EOFError, zlib.error)


def detect_format(path: str, override: str | None) -> str:
    if override:
        return override
    name = path.lower()
    if path == "-":
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".tsv", ".tsv.gz", ".tab")):
        return "tsv"
    if name.endswith((".csv", ".csv.gz", ".txt")):
        return "csv"
    raise UsageError(
        f"{path}: cannot tell the format from the extension; "
        f"use --input-format {{{','.join(FORMATS)}}}"
    )


def delimiter(fmt: str, override: str | None = None) -> str:
    if override is not None:
        if len(override) != 1 and override not in ("\\t", "tab"):
            raise UsageError(f"--delimiter takes one character, not {override!r}")
        return "\t" if override in ("\\t", "tab") else override
    return "\t" if fmt == "tsv" else ","


def first_line(text: str, limit: int = 200) -> str:
    """The first line of a library's message, printable (binary input can echo raw bytes)."""
    line = text.strip().splitlines()[0] if text.strip() else text
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return line if len(line) <= limit else line[:limit] + " …"


@dataclass
class DataFile:
    """One input file: its path as the user named it, format, columns and what its footer
    tells before any row is read (Parquet: rows per row group)."""

    path: str
    format: str
    names: list[str]
    row_groups: list[int] | None = None  # Parquet: rows of each row group
    size: int | None = None  # bytes on disk
    source: str = ""  # where the bytes are read from (stdin: its spooled copy)
    shown_format: str | None = None  # the report's `format`, when not `format`
    sep: str = ","  # text: the field separator
    est_rows: int | None = None  # text: rows estimated from its size and first lines
    encoding: str = "utf-8"  # text: the character encoding
    gzip: bool = False  # text: gzip-compressed (by its first bytes, or .gz for a URL)
    raw_names: list[str] | None = None  # text: the header's names before trimming spaces
    thousands: str | None = None  # text: numbers may be grouped by this (read as text)
    block: int = CSV_BLOCK_BYTES  # text: the read block, grown once a row was longer

    @property
    def rows(self) -> int | None:
        return sum(self.row_groups) if self.row_groups is not None else None


@dataclass
class Input:
    """The files of one data set, in reading order."""

    files: list[DataFile]
    spec: tuple[str, ...]  # the paths as given
    warnings: list[str] = field(default_factory=list)  # what opening them noticed

    @property
    def names(self) -> list[str]:
        return self.files[0].names

    @property
    def display(self) -> str | list[str]:
        """`input.path` in the report: the path, or a list when several files were read."""
        return self.files[0].path if len(self.files) == 1 else [f.path for f in self.files]

    @property
    def format(self) -> str:
        return self.files[0].shown_format or self.files[0].format

    @property
    def total_rows(self) -> int | None:
        rows = [f.rows for f in self.files]
        return None if any(r is None for r in rows) else sum(rows)

    @property
    def estimated_rows(self) -> int | None:
        """The rows known from footers, or estimated from text files' sizes."""
        rows = [f.rows if f.rows is not None else f.est_rows for f in self.files]
        return None if any(r is None for r in rows) else sum(rows)

    @property
    def total_bytes(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)


@dataclass(frozen=True)
class Spooled:
    """Data handed over in memory (a DataFrame, an Arrow table, a mapping of arrays),
    written once to a temporary Parquet file so that every pass and engine reads it as
    a file; `label` names it in reports and errors."""

    label: str
    kind: str
    source: str


def spool_table(table, label: str, kind: str) -> Spooled:
    """Write a pyarrow Table (or RecordBatchReader) to a temporary Parquet file (removed
    at exit), in row groups of TEXT_BATCH_ROWS rows."""
    import atexit
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    fd, name = tempfile.mkstemp(prefix="losscli-data-", suffix=".parquet")
    os.close(fd)
    atexit.register(lambda: os.path.exists(name) and os.unlink(name))
    if isinstance(table, pa.RecordBatchReader):
        with pq.ParquetWriter(name, table.schema, compression="none") as writer:
            for batch in table:
                writer.write_table(pa.Table.from_batches([batch]),
                                   row_group_size=TEXT_BATCH_ROWS)
    else:
        pq.write_table(table, name, row_group_size=TEXT_BATCH_ROWS, compression="none")
    return Spooled(label, kind, name)


def remove_spool(spooled: Spooled) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(spooled.source)


def expand(paths: tuple[str, ...], notes: list[str] | None = None) -> list[str]:
    """The files named by paths, quoted globs and directories (of Parquet parts), in
    sorted order, each once (a file named twice, however spelt, is read once and noted in
    `notes`); a missing or unreadable path is a data error."""
    out: list[str] = []
    if len(paths) == 1 and isinstance(paths[0], Spooled):
        return list(paths)
    for path in paths:
        if path == "-":
            out.append(path)
            continue
        if is_url(path):
            out.extend(_expand_url(path))
            continue
        if any(ch in path for ch in "*?[") and not os.path.exists(path):
            hits = sorted(p for p in glob.glob(path) if os.path.isfile(p))
            if not hits:
                raise InputError("no file matches this pattern", file=path)
            out.extend(hits)
            continue
        if os.path.isdir(path):
            parts = sorted(
                os.path.join(root, f) for root, dirs, files in os.walk(path)
                for f in files if f.lower().endswith((".parquet", ".pq"))
                and not f.startswith((".", "_")))
            if not parts:
                raise InputError("is a directory with no Parquet files (*.parquet, *.pq)",
                                 file=path)
            out.extend(parts)
            continue
        check_file(path)
        out.append(path)
    if out.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    if len(out) > 1 and "-" in out:
        raise UsageError("standard input ('-') cannot be read together with files")
    return _once(sorted(out), notes)  # one data set, in sorted order


def _once(paths: list[str], notes: list[str] | None) -> list[str]:
    """Each file once: two names of one file (a/b.csv and ./a/b.csv, a glob and a name, a
    link) would count its rows twice."""
    seen: dict[str, str] = {}
    out = []
    for path in paths:
        key = path if path == "-" or is_url(path) else os.path.realpath(path)
        if key in seen:
            if notes is not None:
                notes.append(f"{path} is named twice: read once" if seen[key] == path
                             else f"{seen[key]} and {path} are the same file: read once")
            continue
        seen[key] = path
        out.append(path)
    return out


def is_url(path: str) -> bool:
    return "://" in path


def _fs(url: str):
    """(fsspec filesystem, path inside it) of a URL."""
    try:
        import fsspec
    except ImportError:
        raise UsageError(f"{url}: reading URLs needs fsspec (pip install fsspec and the "
                         "package for its protocol, e.g. s3fs or gcsfs)") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{url}: {first_line(str(exc))}") from None
    return fs, path


def _expand_url(url: str) -> list[str]:
    """The files a URL names: itself, a glob's matches or a folder's Parquet parts."""
    fs, path = _fs(url)
    try:
        if any(ch in path for ch in "*?["):
            hits = [p for p in fs.glob(path) if fs.isfile(p)]
            if not hits:
                raise InputError("no file matches this pattern", file=url)
        elif fs.isdir(path):
            hits = [p for p in fs.find(path) if p.lower().endswith((".parquet", ".pq"))
                    and not os.path.basename(p).startswith((".", "_"))]
            if not hits:
                raise InputError("is a directory with no Parquet files (*.parquet, *.pq)",
                                 file=url)
        elif fs.exists(path):
            hits = [path]
        else:
            raise InputError("no such file", file=url)
    except OSError as exc:
        raise InputError(f"cannot be read ({first_line(str(exc))})", file=url) from None
    return sorted(fs.unstrip_protocol(p) for p in hits)


def check_file(path: str) -> None:
    """A missing or unreadable path is a data error (exit 1), whatever its extension."""
    if not os.path.exists(path):
        raise InputError("no such file", file=path)
    if os.path.isdir(path):
        raise InputError("is a directory, not a data file", file=path)
    if not os.access(path, os.R_OK):
        raise InputError("permission denied", file=path)


def check_encoding(encoding: str | None) -> str:
    """The codec name of `--encoding` (default UTF-8); an unknown one is a usage error."""
    if encoding is None:
        return "utf-8"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"--encoding: unknown encoding {encoding!r} (e.g. utf-8, latin-1, "
                         "cp1252, utf-16)") from None


def open_input(paths: tuple[str, ...], input_format: str | None,
               sep: str | None = None, encoding: str | None = None,
               thousands: str | None = None) -> Input:
    codec = check_encoding(encoding)
    if thousands is not None and (len(thousands) != 1 or thousands in ".+-0123456789"):
        raise UsageError(f"--thousands takes one separator character such as ',' or "
                         f"\"'\", not {thousands!r}")
    notes: list[str] = []
    files = [open_file(p, "parquet" if isinstance(p, Spooled) else
                       detect_format(p, input_format), sep, codec,
                       sniff=input_format is None) for p in expand(paths, notes)]
    first = files[0]
    for f in files[1:]:
        if f.format != first.format:
            raise InputError(f"is {f.format.upper()}, but {first.path} is "
                             f"{first.format.upper()}: one data set has one format",
                             file=f.path)
    for f in files:
        f.thousands = thousands
    return Input(files, paths, notes)


def _magic(source: str) -> bytes:
    """The first four bytes of a local file (b"" for a URL: its extension decides)."""
    if is_url(source):
        return b""
    with open(source, "rb") as fh:
        return fh.read(4)


def open_file(path: str | Spooled, fmt: str, sep: str | None = None,
              encoding: str = "utf-8", sniff: bool = False) -> DataFile:
    """One file's format, header and size. With `sniff` (no --input-format), the first
    bytes decide what the name cannot: Parquet starts with PAR1, gzip with 1f 8b, so
    standard input and misnamed files are read as what they are."""
    if isinstance(path, Spooled):
        f = open_file(path.source, "parquet")
        f.path, f.shown_format = path.label, path.kind
        return f
    source = path
    if path == "-":
        # several passes read the data: standard input is spooled to a temporary file
        # once (block by block, so memory stays flat) and read from there
        source = _spool(sys.stdin.buffer)
    magic = _magic(source)
    if sniff and fmt != "parquet" and magic == PARQUET_MAGIC:
        fmt = "parquet"
    compressed = magic[:2] == GZIP_MAGIC if magic else str(path).lower().endswith(".gz")
    if is_url(source):
        fs, inner = _fs(source)
        size = int(fs.size(inner))
    else:
        size = os.path.getsize(source)
    if fmt == "parquet":
        import pyarrow as pa

        try:
            with parquet_file(source) as meta:
                names = list(meta.schema_arrow.names)
                groups = [meta.metadata.row_group(i).num_rows
                          for i in range(meta.metadata.num_row_groups)]
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a Parquet file ({first_line(str(exc))})",
                             file=path) from None
        return DataFile(path, fmt, names, row_groups=groups, size=size, source=source)
    try:
        raw = open_binary(source)
        with (open(raw, "rb") if isinstance(raw, str) else raw) as fh:
            if compressed:
                try:
                    with gzip.open(fh, "rb") as gz:
                        raw_names = _csv_header(gz, path, fmt, sep, encoding)
                except GZIP_ERRORS as exc:
                    raise InputError(f"is not valid gzip data ({first_line(str(exc))})",
                                     file=path) from None
            else:
                raw_names = _csv_header(fh, path, fmt, sep, encoding)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read ({exc})", file=path) from None
    return DataFile(path, fmt, [n.strip() for n in raw_names], size=size, source=source,
                    sep=delimiter(fmt, sep), encoding=encoding, gzip=compressed,
                    raw_names=raw_names,
                    est_rows=None if compressed else _estimate_rows(source, size))


def _estimate_rows(source: str, size: int) -> int | None:
    """Rows of an uncompressed text file, from its size and its first 1 MiB of lines."""
    if is_url(source) or not size:
        return None
    with open(source, "rb") as fh:
        head = fh.read(1 << 20)
    lines = head.count(b"\n")
    return max(int(size * lines / len(head)) - 1, 1) if lines else None


def _spool(stream) -> str:
    """Copy a stream to a temporary file (removed at exit); its path."""
    import atexit
    import shutil
    import tempfile

    fd, name = tempfile.mkstemp(prefix="losscli-stdin-")
    atexit.register(lambda: os.path.exists(name) and os.unlink(name))
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    return name


def _first_line(fh) -> tuple[bytes, bool]:
    """The header line's bytes, up to its LF, CR or CRLF (all three end a line, as in
    the reader; a file with lone CRs is one line to `readline`), and whether anything
    follows it. Read in pieces, at most HEADER_LIMIT bytes."""
    head = b""
    while True:
        chunk = fh.read(1 << 16)
        ends = [len(head) + i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
        head += chunk
        if ends or not chunk:
            break
        if len(head) > HEADER_LIMIT:
            raise ValueError
    if not ends:
        return head, False
    cut = min(ends)
    return head[:cut], bool(head[cut:].strip(b"\r\n")) or bool(fh.read(1))


def _csv_header(fh, path: str, fmt: str, sep: str | None = None,
                encoding: str = "utf-8") -> list[str]:
    """The header's names as written (spaces kept: the reader matches them verbatim)."""
    try:
        raw, more = _first_line(fh)
    except ValueError:
        raise InputError(f"the first line is longer than {HEADER_LIMIT >> 20} MiB: it "
                         f"is not a {fmt.upper()} header", file=path) from None
    if not raw.strip():
        if raw or more:
            raise InputError("the first line is blank; it must be the header", file=path)
        raise InputError("the file is empty (no header line)", file=path)
    if b"\x00" in raw and not encoding.startswith("utf-16") \
            and not encoding.startswith("utf-32"):
        # a byte-order mark: text in UTF-32 (checked first: its LE mark starts as UTF-16's)
        for bom, name in (((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "UTF-32"),
                          ((b"\xff\xfe", b"\xfe\xff"), "UTF-16")):
            if raw.startswith(bom):
                raise InputError(f"is {name} {fmt.upper()} text (it starts with a {name} "
                                 f"byte-order mark); pass --encoding {name.lower()}",
                                 file=path)
        raise InputError(f"is binary, not {fmt.upper()} text", file=path)
    # the line was cut at its LF byte: in big-endian UTF-16/32 the bytes of the LF's code
    # unit before that byte ended up at the line's end
    unit = 4 if encoding.startswith("utf-32") else 2 if encoding.startswith("utf-16") else 1
    raw = raw[:len(raw) - len(raw) % unit]
    try:
        line = raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        raise InputError(not_decodable(fmt, encoding, 1, exc), file=path) from None
    try:
        return next(csv.reader([line], delimiter=delimiter(fmt, sep)))
    except csv.Error as exc:
        raise InputError(f"the header line is not {fmt.upper()} ({exc})", file=path) from None


def not_decodable(fmt: str, encoding: str, line: int, exc: UnicodeDecodeError) -> str:
    """What to say of bytes that are not text in `encoding`: where, and the option."""
    bad = exc.object[exc.start:exc.start + 4]
    hint = ("; if it is Latin-1 or Windows-1252 text, pass --encoding latin-1 or "
            "--encoding cp1252" if encoding == "utf-8" else "; pass its --encoding")
    return (f"is not {encoding_name(encoding)} {fmt.upper()} text: line {line:,}, byte "
            f"{exc.start + 1:,} of the line is {bad[:1]!r}{hint}")


def encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8" else encoding


# ------------------------------------------------------------------ batches


@contextlib.contextmanager
def parquet_file(source: str):
    """A ParquetFile on a path or URL, closed after use."""
    import pyarrow.parquet as pq

    raw = open_binary(source)
    pf = pq.ParquetFile(raw)
    try:
        yield pf
    finally:
        pf.close()
        if not isinstance(raw, str):
            raw.close()


def open_binary(source: str):
    """A local path as it is; an fsspec URL (s3://, gs://, file://) as an open file."""
    if not is_url(source):
        return source
    fs, path = _fs(source)
    return fs.open(path, "rb")
