"""Files written whole or not at all: a temporary file in the same directory, renamed
over the target (no heavy imports: the CLI's start-up path uses it)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import IO

from losscli.errors import LossCliError


def write_atomically(path: str, write: Callable[[IO], object], *, binary: bool = False,
                     what: str = "the output", suffix: str = "") -> None:
    """Write through a temp file beside `path`, then rename over it; the file gets the
    mode a shell redirect would give it (or that of the file it replaces). An OSError is
    one LossCliError naming the path; nothing is left behind."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".losscli-", suffix=suffix,
                                   dir=os.path.dirname(os.path.abspath(path)))
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")) as fh:
            write(fh)
        # mkstemp makes the file 0600
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise LossCliError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None
        raise
