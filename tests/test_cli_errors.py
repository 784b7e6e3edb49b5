"""Errors a person can read: every known failure of a `trading-floor` command is ONE line on stderr and a
non-zero exit code, and the traceback appears only with `--debug`.

The failures are real, not simulated: a text file and a truncated copy of a real run's database, a file
(and a folder) the process may not write, a folder it may not create, and a full disk (a tiny tmpfs in a
private mount namespace). As root, permissions do not stop writes, so the command runs with the
capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) dropped from its bounding set.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from floor_helpers import write_config
from typer.testing import CliRunner

from cli import errors as cli_errors

TRADING_FLOOR = str(Path(sys.executable).with_name("trading-floor"))
ENV = os.environ | {"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
ENV.pop("TRADING_FLOOR_DEBUG", None)


def tf(*args: str, preexec_fn=None, prefix: tuple[str, ...] = (), timeout: float = 300,
       env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, TRADING_FLOOR, *args], capture_output=True, text=True, timeout=timeout,
                          env=ENV | (env or {}), preexec_fn=preexec_fn)


def one_error_line(res: subprocess.CompletedProcess) -> str:
    """The single line a failed command wrote on stderr (asserts there is exactly one, and no traceback)."""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    return lines[0]


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    """A small finished run's database (two cycles of the fast config), checkpointed into one file."""
    folder = tmp_path_factory.mktemp("real")
    cfg = write_config(folder / "floor.yaml")
    db = folder / "floor.db"
    res = tf("run", "--cycles", "2", "--db", str(db), "--config", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr
    assert not Path(f"{db}-wal").exists()
    return db


@pytest.fixture(scope="module")
def fast_yaml(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory.mktemp("cfg") / "floor.yaml")


# ---- files that are not (whole) databases -----------------------------------------------------------------

def test_a_file_that_is_not_a_database_is_named_in_one_line(tmp_path, fast_yaml):
    db = tmp_path / "notes.db"
    db.write_text("these are my notes, not a database\n" * 40)
    expected = (f"error: {db} is not an SQLite database (SQLite: file is not a database); is --db pointing "
                "at another kind of file?")
    for cmd in (("run", "--cycles", "1", "--config", str(fast_yaml)), ("status",), ("history",)):
        res = tf(*cmd, "--db", str(db))
        assert res.returncode == 1 and one_error_line(res) == expected, (cmd, res.stderr)


def test_a_truncated_database_is_reported_as_damaged(tmp_path, real_db):
    db = tmp_path / "cut.db"
    data = real_db.read_bytes()
    db.write_bytes(data[: len(data) // 5])
    expected = (f"error: the database {db} is damaged, perhaps truncated (SQLite: database disk image is "
                "malformed); restore it from a copy, or start afresh with another --db")
    for cmd in (("run", "--cycles", "1"), ("status",)):
        res = tf(*cmd, "--db", str(db))
        assert res.returncode == 1 and one_error_line(res) == expected, (cmd, res.stderr)


# ---- permissions ------------------------------------------------------------------------------------------

_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 24, 1, 2


def _drop_permission_override() -> None:
    """preexec_fn: drop the capabilities that let root ignore file permissions (before exec, so for good)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture(scope="module")
def bound_by_permissions():
    """A preexec_fn under which file permissions apply to the command (None when they already do)."""
    if os.geteuid() != 0:
        return None
    try:
        probe = subprocess.run([sys.executable, "-c", "open('/proc/self/status').read()"],
                               preexec_fn=_drop_permission_override, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE ({exc}): permissions cannot be tested")
    assert probe.returncode == 0
    return _drop_permission_override


def test_a_writing_command_on_a_read_only_database_says_what_is_read_only(tmp_path, real_db, bound_by_permissions):
    db = tmp_path / "ro.db"
    shutil.copy(real_db, db)
    db.chmod(0o444)
    for cmd in (("run", "--cycles", "1"), ("rollback", "--to-cycle", "1"), ("fork", "--at-cycle", "1")):
        res = tf(*cmd, "--db", str(db), preexec_fn=bound_by_permissions)
        assert res.returncode == 1, (cmd, res.stdout, res.stderr)
        assert one_error_line(res) == f"error: cannot write to the database {db}: the file is read-only", cmd

    folder = tmp_path / "locked"
    folder.mkdir()
    db = folder / "floor.db"
    shutil.copy(real_db, db)
    folder.chmod(0o555)
    try:
        res = tf("run", "--cycles", "1", "--db", str(db), preexec_fn=bound_by_permissions)
    finally:
        folder.chmod(0o755)
    assert res.returncode == 1
    assert one_error_line(res) == (f"error: cannot write to the database {db}: its folder {folder} is read-only "
                                   "(SQLite writes floor.db-wal and floor.db-shm beside it)")


def test_a_folder_that_cannot_be_created_is_named(tmp_path, fast_yaml, bound_by_permissions):
    parent = tmp_path / "closed"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    db = parent / "runs" / "floor.db"
    try:
        res = tf("run", "--cycles", "1", "--db", str(db), "--config", str(fast_yaml), preexec_fn=bound_by_permissions)
    finally:
        parent.chmod(0o755)
    assert res.returncode == 1
    assert one_error_line(res) == f"error: cannot create the folder {parent / 'runs'} for the database {db}: permission denied"
    assert not (parent / "runs").exists()


def test_read_only_commands_on_a_missing_database_say_so(tmp_path):
    """(These sentences come from each command's own check; they are printed on stdout today.)"""
    missing, deep = tmp_path / "none.db", tmp_path / "no" / "such" / "folder" / "none.db"
    for db, cmd in ((missing, ("status",)), (missing, ("history",)), (deep, ("status",)),
                    (missing, ("export", "--out", str(tmp_path / "out")))):
        res = tf(*cmd, "--db", str(db))
        out = res.stdout + res.stderr
        assert res.returncode == 2 and "Traceback" not in out, (cmd, out)
        assert f"error: no database at {db}: start a run with `trading-floor run`" in out.splitlines(), (cmd, out)
    res = tf("report", "--db", str(missing), "--out", str(tmp_path / "r.html"))
    assert res.returncode == 2 and f"error: no database at {missing}: run `trading-floor run` first" in \
        (res.stdout + res.stderr).splitlines()
    assert not missing.exists() and not deep.parent.exists() and not (tmp_path / "out").exists()


# ---- a full disk ------------------------------------------------------------------------------------------

def test_the_disk_full_sentence_from_a_real_sqlite_full_error(tmp_path):
    db = tmp_path / "capped.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA max_page_count = 4")  # SQLite answers SQLITE_FULL past it, as on a full disk
    conn.execute("CREATE TABLE t (x BLOB)")
    with pytest.raises(sqlite3.OperationalError) as info:
        for _ in range(100):
            conn.execute("INSERT INTO t VALUES (zeroblob(2000))")
    conn.close()
    assert str(info.value) == "database or disk is full"
    expected = (f"the disk is full: cannot write the database {db} (free some space, or use a --db on another "
                "disk)")
    assert cli_errors.explain(info.value, db=db) == (expected, 1)
    # a second error while cleaning up (here: a rollback) does not hide the first
    try:
        try:
            raise info.value
        except sqlite3.OperationalError:
            raise sqlite3.OperationalError("cannot rollback - no transaction is active") from None
    except sqlite3.OperationalError as outer:
        assert cli_errors.explain(outer, db=db) == (expected, 1)
    assert cli_errors.explain(OSError(errno.ENOSPC, "No space left on device", "runs/export/fills.csv")) == \
        ("the disk is full: cannot write runs/export/fills.csv (free some space)", 1)


def _private_tmpfs(size: str) -> tuple[str, ...] | None:
    """A command prefix that mounts a tmpfs of `size` on "$0" in a private mount namespace, then runs "$@"."""
    if shutil.which("unshare") is None:
        return None
    user = () if os.geteuid() == 0 else ("--user", "--map-root-user")
    prefix = ("unshare", *user, "--mount", "--propagation", "private", "sh", "-c",
              f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"')
    return prefix


def test_a_full_disk_is_one_line(tmp_path, fast_yaml):
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    prefix = _private_tmpfs("96k")
    if prefix is None:
        pytest.skip("no `unshare` here to mount a small disk; the sentence is tested from a real SQLITE_FULL above")
    probe = subprocess.run([*prefix, str(mnt), "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({probe.stderr.strip()}); the sentence is tested from a "
                    "real SQLITE_FULL above")
    db = mnt / "floor.db"
    res = subprocess.run([*prefix, str(mnt), TRADING_FLOOR, "run", "--cycles", "3", "--db", str(db), "--config",
                          str(fast_yaml)], capture_output=True, text=True, timeout=300, env=ENV)
    assert res.returncode == 1, res.stdout + res.stderr
    assert one_error_line(res) == (f"error: the disk is full: cannot write the database {db} (free some space, "
                                   "or use a --db on another disk)")


# ---- --debug, usage errors, the entry points --------------------------------------------------------------

def test_debug_shows_the_traceback_then_the_same_line(tmp_path):
    db = tmp_path / "notes.db"
    db.write_text("not a database\n" * 40)
    expected = (f"error: {db} is not an SQLite database (SQLite: file is not a database); is --db pointing "
                "at another kind of file?")
    for res in (tf("--debug", "history", "--db", str(db)), tf("history", "--db", str(db),
                                                                env={"TRADING_FLOOR_DEBUG": "1"})):
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert lines[0] == "Traceback (most recent call last):"
        assert "sqlite3.DatabaseError: file is not a database" in lines and lines[-1] == expected


def test_usage_errors_keep_clicks_output_and_exit_code_2():
    res = tf("run", "--cycles", "many")
    assert res.returncode == 2 and "Usage: trading-floor run" in res.stderr and "Invalid value" in res.stderr
    res = tf("no-such-command")
    assert res.returncode == 2 and "No such command" in res.stderr
    assert "--debug" in tf("--help").stdout


def test_python_dash_m_graphs_cli_works_the_same(tmp_path):
    db = tmp_path / "notes.db"
    db.write_text("not a database\n" * 40)
    res = subprocess.run([sys.executable, "-m", "cli.app", "status", "--db", str(db)], capture_output=True,
                         text=True, timeout=300, env=ENV)
    assert res.returncode == 1 and one_error_line(res).startswith(f"error: {db} is not an SQLite database")
    res = subprocess.run([sys.executable, "-m", "cli.app", "--help"], capture_output=True, text=True,
                         timeout=300, env=ENV)
    assert res.returncode == 0 and "Usage: trading-floor" in res.stdout


def test_an_unexpected_exception_is_one_line_with_a_pointer_to_debug():
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        print(1 / 0)

    @app.command()
    def other() -> None:
        pass

    for info in app.registered_commands:
        info.callback = cli_errors.guard(info.callback)
    cli_errors.set_debug(False)
    res = CliRunner().invoke(app, ["boom"])
    assert res.exit_code == 70
    assert res.stderr.splitlines() == ["error: unexpected ZeroDivisionError: division by zero (a bug: run again "
                                       "with --debug for the traceback)"]


def test_os_errors_become_sentences_naming_the_file():
    db = "/no-such-place/runs/floor.db"
    cases = {
        OSError(errno.EROFS, "Read-only file system", "runs/export/fills.csv"):
            "cannot write runs/export/fills.csv: it is on a read-only file system",
        PermissionError(errno.EACCES, "Permission denied", "/no-such-place/runs"):
            f"cannot create the folder /no-such-place/runs for the database {db}: permission denied",
        PermissionError(errno.EACCES, "Permission denied", "report.html"): "permission denied: report.html",
        IsADirectoryError(errno.EISDIR, "Is a directory", "runs"): "runs is a folder, not a file",
        MemoryError(): "out of memory: lower the sizes in the config (background population counts, ticks_per_cycle)",
    }
    for exc, sentence in cases.items():
        assert cli_errors.explain(exc, db=db) == (sentence, 1), exc
