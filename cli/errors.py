"""Failures a person can read: every `trading-floor` command ends a known failure with ONE line on stderr,
`error: <sentence>`, and a non-zero exit code; the traceback is shown only with the global `--debug` flag
(or TRADING_FLOOR_DEBUG=1).

`cli/app.py` installs `guard` on every command once, so no command needs its own try/except for these:

| failure | sentence (DB is the command's `--db`) | exit |
|---|---|---|
| SQLite "database or disk is full", OSError ENOSPC/EDQUOT | `the disk is full: cannot write the database DB (...)` | 1 |
| SQLite "attempt to write a readonly database" | `cannot write to the database DB: <the file / its folder / the file system> is read-only` | 1 |
| OSError EACCES/EPERM, EROFS | `cannot create the folder F for DB: permission denied`, `permission denied: F`, ... | 1 |
| SQLite "file is not a database" | `DB is not an SQLite database (...)` | 1 |
| SQLite "database disk image is malformed" | `the database DB is damaged (...)` | 1 |
| SQLite "unable to open database file" | `cannot open the database DB: <no such file / its folder F does not exist / ...>` | 1 |
| SQLite "database is locked", I/O errors | `the database DB is locked by another process (...)`, `input/output error on ...` | 1 |
| an invalid config (pydantic), MemoryError | `invalid config: market.noise.count (FLOOR_MARKET__NOISE__COUNT): ...`, `out of memory ...` | 1 |
| the project's own refusals (LedgerError, SessionError, ...) | their own sentence | 2 (3: busy) |
| anything else: a bug | `unexpected <Type>: <message> (a bug: run again with --debug for the traceback)` | 70 |

Usage errors (a bad option, a missing argument) are Click's: they keep their normal output and exit 2.
A closed pipe (`trading-floor replay f | head`) is left to Typer, which exits quietly. `fail(message)` is
the one-line exit for a command's own checks.
"""
from __future__ import annotations

import errno
import functools
import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

# The largest --seed of every command: market/background/config.py SEED_MAX (seeds are stored in 64-bit
# SQLite integers), written out so that declaring the options imports neither pydantic nor numpy
# (tests/test_startup_imports.py checks that the two agree).
SEED_MAX = 2**63 - 1

EXIT_FAILURE = 1  # a known failure: the disk, the file system, the database file, the config
EXIT_REFUSED = 2  # the project's own refusals, as each command's `_fail` (and Click's usage errors)
EXIT_BUSY = 3  # another process owns the run database (cli/run.py BUSY_EXIT)
EXIT_BUG = 70  # an unexpected exception (EX_SOFTWARE of sysexits.h)

_debug = False


def set_debug(on: bool) -> None:
    """Show tracebacks (the root `--debug` option sets this for the invocation)."""
    global _debug
    _debug = bool(on)


def debug_enabled() -> bool:
    return _debug


def one_line(text: str) -> str:
    """`text` with every run of whitespace that holds a line break made one space."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """End the command with `error: message` as one line on stderr and exit `code`."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


# ---- the translation -------------------------------------------------------------------------------------

# SQLite primary result codes (sqlite3.h); `sqlite_errorcode` may hold an extended code: its low byte.
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_NOMEM, _SQLITE_READONLY = 3, 5, 6, 7, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_TOOBIG, _SQLITE_NOTADB = 10, 11, 13, 14, 18, 26
_BY_TEXT = (("database or disk is full", _SQLITE_FULL), ("readonly database", _SQLITE_READONLY),
            ("file is not a database", _SQLITE_NOTADB), ("malformed", _SQLITE_CORRUPT),
            ("unable to open database file", _SQLITE_CANTOPEN), ("disk i/o error", _SQLITE_IOERR),
            ("database is locked", _SQLITE_BUSY), ("database table is locked", _SQLITE_LOCKED))

# Exceptions whose message is already a sentence for people: (module, class, exit code). Looked up in
# sys.modules, so this module imports none of them (an exception of a class never imported cannot occur).
_SENTENCES = (("ledger.errors", "LedgerError", EXIT_REFUSED), ("floor.session", "SessionError", EXIT_REFUSED),
              ("floor.database", "RunDatabaseError", EXIT_REFUSED),
              ("floor.ownership.commands", "ControlRefused", EXIT_REFUSED),
              ("floor.ownership.lease", "LeaseHeld", EXIT_BUSY),
              ("analysis.backtest", "PriceFileError", EXIT_REFUSED),
              ("ledger.pg_connection", "StorageUnavailable", EXIT_FAILURE))


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF
    text = str(exc).lower()
    return next((c for needle, c in _BY_TEXT if needle in text), None)


def _the_db(db: str | os.PathLike | None) -> str:
    return f"the database {db}" if db else "a database"


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def _why_read_only(db: Path) -> str:
    """Which part of the database is read-only: the file system, the file, a -wal/-shm file, the folder."""
    folder = db.parent
    if _read_only_fs(db if db.exists() else folder):
        return "it is on a read-only file system"
    if db.exists() and not _writable(db):
        return "the file is read-only"
    for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        if extra.exists() and not _writable(extra):
            return f"its file {extra.name} is read-only"
    if folder.exists() and not _writable(folder):
        return f"its folder {folder} is read-only (SQLite writes {db.name}-wal and {db.name}-shm beside it)"
    return "the file or its folder is read-only"


def _sqlite_sentence(exc: sqlite3.Error, db: str | os.PathLike | None) -> str | None:
    code = _sqlite_code(exc)
    the_db, path = _the_db(db), Path(db) if db else None
    if code == _SQLITE_FULL:
        return f"the disk is full: cannot write {the_db} (free some space, or use a --db on another disk)"
    if code == _SQLITE_READONLY:
        why = _why_read_only(path) if path else "it is read-only"
        return f"cannot write to {the_db}: {why}"
    if code == _SQLITE_NOTADB:
        return (f"{db if db else 'the file'} is not an SQLite database (SQLite: {exc}); "
                "is --db pointing at another kind of file?")
    if code == _SQLITE_CORRUPT:
        return (f"{the_db} is damaged, perhaps truncated (SQLite: {exc}); restore it from a copy, or start "
                "afresh with another --db")
    if code == _SQLITE_CANTOPEN:
        if path is None:
            return f"cannot open a database file (SQLite: {exc})"
        if path.is_dir():
            return f"cannot open {the_db}: it is a folder, not a file"
        if not path.parent.exists():
            return f"cannot open {the_db}: its folder {path.parent} does not exist"
        if not path.exists():
            return f"cannot open {the_db}: there is no such file"
        return f"cannot open {the_db}: permission denied, or its folder is read-only"
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return f"{the_db} is locked by another process (SQLite: {exc}); try again when it is done"
    if code == _SQLITE_IOERR:
        return f"input/output error on {the_db} (SQLite: {exc}); check the disk"
    if code == _SQLITE_PERM:
        return f"cannot use {the_db}: permission denied"
    if code == _SQLITE_NOMEM:
        return "out of memory (SQLite)"
    if code == _SQLITE_TOOBIG:
        return f"a value is too big to store in {the_db}"
    return None


def _is_ancestor(folder: Path, path: Path) -> bool:
    try:
        return folder != path and path.absolute().is_relative_to(folder.absolute())
    except (OSError, ValueError):
        return False


def _os_sentence(exc: OSError, db: str | os.PathLike | None) -> str | None:
    what = "" if exc.filename is None else str(exc.filename)
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        target = what or (str(db) if db else "")
        return "the disk is full" + (f": cannot write {target}" if target else "") + " (free some space)"
    if code == errno.EADDRINUSE:
        return "the address is already in use: another server listens on that port (choose one with --port)"
    if not what:
        return None if code is None else f"{exc.strerror or os.strerror(code)}"
    parent_of_db = db is not None and _is_ancestor(Path(what), Path(db))
    if code in (errno.EACCES, errno.EPERM):
        if parent_of_db and not Path(what).exists():
            return f"cannot create the folder {what} for the database {db}: permission denied"
        return f"permission denied: {what}"
    if code == errno.EROFS:
        return f"cannot write {what}: it is on a read-only file system"
    if code == errno.ENOENT:
        return f"no such file or folder: {what}"
    if code == errno.ENOTDIR:
        return f"{what}: a part of this path is a file, not a folder"
    if code == errno.EISDIR:
        return f"{what} is a folder, not a file"
    if code == errno.ENAMETOOLONG:
        return f"file name too long: {what}"
    if code in (errno.EMFILE, errno.ENFILE):
        return f"too many open files (opening {what})"
    if exc.strerror:
        return f"{what}: {exc.strerror}"
    return None


def config_sentence(exc: Exception, env_prefix: str = "FLOOR_") -> str:
    """One line for a config that failed to load. A pydantic ValidationError becomes `loc (FLOOR_ENV=value):
    message; ...` (the variable is named when it is set); any other exception its message on one line."""
    if not (type(exc).__name__ == "ValidationError" and hasattr(exc, "errors")):
        return one_line(str(exc)) or type(exc).__name__
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        env = env_prefix + "__".join(str(x) for x in err.get("loc", ())).upper()
        where = loc + (f" ({env}={os.environ[env]})" if loc and env in os.environ else "")
        msg = err.get("msg", "").removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return one_line("; ".join(parts) + more)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what caused it or was being handled when it happened, outermost first."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]


def _one(exc: BaseException, db: str | os.PathLike | None) -> tuple[str, int] | None:
    for module, name, code in _SENTENCES:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return str(getattr(exc, "message", None) or exc), code
    if isinstance(exc, sqlite3.Error):
        text = _sqlite_sentence(exc, db)
        return (text, EXIT_FAILURE) if text else None
    if isinstance(exc, OSError):
        text = _os_sentence(exc, db)
        return (text, EXIT_FAILURE) if text else None
    pg = sys.modules.get("psycopg")  # PostgreSQL (`--db postgresql://...`), not imported here
    if pg is not None and isinstance(exc, pg.OperationalError | pg.InterfaceError):
        return (f"the PostgreSQL server went away or failed ({one_line(str(exc))[:200]}): every complete cycle is "
                "kept; run the command again once the server is back", EXIT_FAILURE)
    if isinstance(exc, MemoryError):
        return ("out of memory: lower the sizes in the config (background population counts, "
                "ticks_per_cycle)", EXIT_FAILURE)
    if type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):  # pydantic, not imported here
        title = str(getattr(exc, "title", ""))
        what = "config" if title.endswith(("Config", "Settings")) or not title else title
        return f"invalid {what}: {config_sentence(exc)}", EXIT_FAILURE
    return None


def explain(exc: BaseException, *, db: str | os.PathLike | None = None) -> tuple[str, int]:
    """(sentence, exit code) for an exception: the first known failure in its chain, else a bug report."""
    for e in _chain(exc):
        known = _one(e, db)
        if known is not None:
            return one_line(known[0]), known[1]
    text = one_line(str(exc)) or "no message"
    return (f"unexpected {type(exc).__name__}: {text[:300]} (a bug: run again with --debug for the traceback)",
            EXIT_BUG)


def report(exc: BaseException, *, db: str | os.PathLike | None = None, debug: bool | None = None) -> int:
    """Print the failure (the traceback first with --debug) on stderr; return the exit code."""
    if debug if debug is not None else _debug:
        traceback.print_exception(exc, file=sys.stderr)
    sentence, code = explain(exc, db=db)
    typer.echo(f"error: {sentence}", err=True)
    return code


def _passes_through() -> tuple[type[BaseException], ...]:
    """Exceptions a command raises on purpose to end: Typer's and Click's exits, aborts and usage errors."""
    out: list[type[BaseException]] = [typer.Exit, typer.Abort, typer.TyperException]
    try:
        import click

        out += [click.exceptions.Exit, click.exceptions.Abort, click.ClickException]
    except ImportError:  # pragma: no cover - click comes with our dependencies
        pass
    return tuple(out)


_PASS = _passes_through()


def guard(callback: Callable[..., Any]) -> Callable[..., Any]:
    """`callback` (a command function) with every known failure turned into one line and an exit code.
    The signature is kept (functools.wraps), so Typer builds the same options from it."""

    @functools.wraps(callback)
    def command(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except _PASS:
            raise
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # Typer ends a closed pipe quietly
            raise typer.Exit(report(exc, db=kwargs.get("db"))) from None

    command.guarded = True  # type: ignore[attr-defined]
    return command
