"""The StateStore over a local directory: the default, and how the tool kept its files before S3 state.

A key is a path under the root. Whole-object writes go through `migrator.files.atomic_write` (a temp file
opened O_EXCL|O_NOFOLLOW beside the target, fsynced, renamed, the directory fsynced; 0600). `if_none_match`
links the finished temp file to its name (link(2) fails when the name exists, so of two writers exactly one
wins and nobody sees half an object); `if_match` compares and replaces under an flock of the directory, which
every if-match write and every delete of this store takes. Directories the store creates are 0700; one it did
not create is used as it is (`migrator.files.private_dir`). Versions are content hashes. As in S3, a key that
names a folder (or lies under a file) holds no object; anything else that is not a regular file is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from migrator.errors import InputError, WriteConflict
from migrator.files import PRIVATE_FILE, atomic_write, check_writable_target, fsync_directory, private_dir
from migrator.ports import StateStore, StoredObject
from migrator.state.keys import check_key, join


def content_version(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FileStore:
    """`FileStore(Path("plans"))`: keys are files under that directory."""

    shared = False

    def __init__(self, root: Path, prefix: str = "") -> None:
        self.root = root
        self.prefix = prefix

    @property
    def location(self) -> str:
        return str(self._dir())

    def _dir(self) -> Path:
        return self.root.joinpath(*self.prefix.split("/")) if self.prefix else self.root

    def where(self, key: str) -> str:
        return str(self._path(key))

    def child(self, prefix: str) -> StateStore:
        return FileStore(self.root, join(self.prefix, check_key(prefix)))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def _path(self, key: str) -> Path:
        return self._dir().joinpath(*check_key(key).split("/"))

    def get(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            # O_NONBLOCK: a fifo put in a key's place must not hang the run (no effect on a regular file)
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise InputError(f"{path}: cannot read ({error.strerror})") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                return None  # a folder of keys, as in S3: no object
            raise InputError(f"{path}: not a regular file; refusing to read it as run state")
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        return StoredObject(data, content_version(data))

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        path = self._path(key)
        private_dir(path.parent)
        if if_none_match:
            self._create(path, data)
        elif if_match is not None:
            with self._conditional(path.parent):
                current = self.get(key)
                if current is None or current.version != if_match:
                    raise WriteConflict(f"{path}: changed since it was read")
                atomic_write(path, data)
        else:
            atomic_write(path, data)
        return content_version(data)

    def _create(self, path: Path, data: bytes) -> None:
        """Write a temp file whole, then link it to its name: fails, leaving nothing, when the name exists."""
        check_writable_target(path)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(temporary, flags, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), PRIVATE_FILE)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            raise WriteConflict(f"{path}: exists already") from None
        except OSError as error:
            raise InputError(f"{path}: cannot write ({error.strerror})") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        fsync_directory(path.parent)

    @contextlib.contextmanager
    def _conditional(self, directory: Path) -> Iterator[None]:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def list(self, prefix: str = "") -> Sequence[str]:
        base = self._dir()
        start = base.joinpath(*check_key(prefix).split("/")) if prefix else base
        keys: list[str] = []
        for directory, folders, files in os.walk(start):
            folders[:] = [f for f in folders if not f.startswith(".")]
            relative = Path(directory).relative_to(base)
            keys.extend("/".join((*relative.parts, name)) for name in files if not name.startswith("."))
        return sorted(keys)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._path(key)
        with self._conditional(path.parent) if path.parent.is_dir() else contextlib.nullcontext():
            if if_match is not None:
                current = self.get(key)
                if current is not None and current.version != if_match:
                    raise WriteConflict(f"{path}: changed since it was read")
            try:
                os.unlink(path)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return  # no object there (a folder of keys is none either): gone already is fine
            except OSError as error:
                raise InputError(f"{path}: cannot delete ({error.strerror})") from None
            fsync_directory(path.parent)
