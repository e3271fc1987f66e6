"""Every file the tool writes goes through here: plan files, backups, scenarios, pid files, run directories.

- `atomic_write`: a temp file under a random name in the target's own directory, opened with
  O_CREAT|O_EXCL|O_NOFOLLOW (a planted symlink or file is never followed nor reused), written, fsynced, then
  renamed over the target and the directory fsynced. A target that exists and is not a regular file (a
  device such as /dev/full, a fifo, a directory, a symlink) is refused, never replaced.
- `private_dir`: a directory for files that name principals. One that does not exist is created 0700 (its
  missing parents too). One that exists is used as it is: the tool never changes the permissions of a
  directory it did not create (it may be the user's working directory), and the files in it are 0600
  anyway. Refused: a path that is not a directory (a symlink included), and a directory that others could
  write in (world-writable, or someone else's and group-writable), since they could replace or pre-create
  the journal, the backup or the plan.
- `open_private_append`: an append-only 0600 file (the journal) that is neither a symlink nor a device.

Every problem is an InputError (exit 2) that says which path and why.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from migrator.errors import InputError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a fifo"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_writable_target(path: Path) -> None:
    """Refuse a target that exists and is not a regular file (it would be followed or replaced)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise InputError(f"{path}: cannot write ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: is {_kind(info.st_mode)}; refusing to write over it", hint="name a regular file")


def _check_parent(path: Path) -> None:
    parent = path.parent
    try:
        info = os.stat(parent)
    except FileNotFoundError:
        raise InputError(f"{path}: cannot write: the directory {parent} does not exist") from None
    except OSError as error:
        raise InputError(f"{path}: cannot write: {parent}: {error.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: cannot write: {parent} is not a directory")


def atomic_write(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Replace `path` with `data` atomically (readers see the old or the new file, never half of one)."""
    _check_parent(path)
    check_writable_target(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temporary, flags, mode)
    except OSError as error:
        raise InputError(f"{path}: cannot write ({error.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # exactly `mode`, whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        check_writable_target(path)  # it may have appeared while we wrote
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise InputError(f"{path}: cannot write ({error.strerror})") from None
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (a new or renamed file's name) durable: fsync of the file alone is not."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(directory: Path) -> Path:
    """`directory`, created 0700 with its missing parents when it does not exist; an existing one is used as
    it is (never chmod-ed), unless it is not a directory or others could write in it (see the module)."""
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        _make_private_dirs(directory)
        info = _lstat(directory)
    except OSError as error:
        raise InputError(f"{directory}: {error.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{directory}: is {_kind(info.st_mode)}, not a directory")
    _refuse_writable_by_others(directory, info)
    return directory


def _make_private_dirs(directory: Path) -> None:
    """Each missing component of `directory`, outermost first, made 0700 (`Path.mkdir(parents=True)` would
    make the parents with the umask's default, usually 0755)."""
    try:
        if directory.parent != directory and not os.path.lexists(directory.parent):
            _make_private_dirs(directory.parent)
        os.mkdir(directory, PRIVATE_DIR)
    except FileExistsError:
        pass  # made meanwhile by someone else: the caller's lstat judges it as any existing directory
    except OSError as error:
        raise InputError(f"{directory}: cannot create the directory ({error.strerror})") from None


def _lstat(directory: Path) -> os.stat_result:
    try:
        return os.lstat(directory)
    except OSError as error:
        raise InputError(f"{directory}: {error.strerror}") from None


def _refuse_writable_by_others(directory: Path, info: os.stat_result) -> None:
    """Whoever can write in the directory can rename our files away and put their own in their place (the
    sticky bit does not stop them pre-creating a name we are about to use). A group-writable directory of our
    own is allowed: with a user private group (umask 002) that group is just us."""
    permissions = stat.S_IMODE(info.st_mode)
    ours = info.st_uid == os.geteuid()
    if not permissions & 0o002 and (ours or not permissions & 0o020):
        return
    owner = "yours" if ours else "owned by someone else"
    raise InputError(
        f"{directory}: others can write in this directory ({permissions:03o}, {owner}); they could replace the "
        "files naming every principal with access that the tool keeps in it",
        hint="use a directory only you can write in (--plans-dir, or --out in a folder of your own)",
    )


def open_private_append(path: Path) -> int:
    """A file descriptor appending to `path` (created 0600), refusing a symlink or anything not a regular file."""
    check_writable_target(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, PRIVATE_FILE)
    except OSError as error:
        raise InputError(f"{path}: cannot open for writing ({error.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(f"{path}: is {_kind(info.st_mode)}; refusing to write to it")
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        os.fchmod(fd, PRIVATE_FILE)
    return fd
