"""Which process a holder names, and whether this process can judge its pid.

A lock or lease names its holder by host name and pid. A host name is not unique (CI runners on different
machines share them: autoscaled VMs, containers run with --hostname, pods with a fixed hostname), and a pid
names one process only within one kernel boot and one pid namespace (two containers on one machine number
their processes apart). So a holder also records its machine: the kernel's boot id and the pid namespace of
its pid, `<boot id>/pid:[<inode>]`. Only a holder whose host name and machine are ours is judged by our pids;
any other, one written where /proc cannot be read, or one written before the machine was recorded, cannot be
judged here (whoever asks then waits for evidence instead, such as a lease left unrenewed).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_BOOT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PID_NAMESPACE = re.compile(r"pid:\[[0-9]+\]")
_PID_LIMIT = 2**31  # pids are positive C ints; anything else written in a holder names no process


def machine_identity(proc: Path = PROC) -> str | None:
    """This kernel boot and this process's pid namespace, e.g. `<boot id>/pid:[4026531836]`; None where either
    cannot be read (no /proc: macOS; a restricted container). The namespace alone is no machine (the first
    one has the same number on every Linux machine), nor the boot id alone (containers share their host's)."""
    try:
        boot = (proc / "sys" / "kernel" / "random" / "boot_id").read_text(encoding="ascii").strip()
        namespace = os.readlink(proc / "self" / "ns" / "pid")
    except (OSError, UnicodeDecodeError):
        return None
    if not _BOOT_ID.fullmatch(boot) or not _PID_NAMESPACE.fullmatch(namespace):
        return None
    return f"{boot}/{namespace}"


@dataclass(frozen=True)
class Process:
    """A process as a holder names it; `machine` None when it was not recorded or could not be read."""

    host: str
    pid: int
    machine: str | None = None

    @staticmethod
    def this(proc: Path = PROC) -> Process:
        return Process(socket.gethostname(), os.getpid(), machine_identity(proc))


def alive_here(process: Process, here: Process) -> bool | None:
    """Whether `process` exists, as `here` (this process) can tell; None when our pids say nothing about it:
    another host name, another machine (boot or pid namespace), or a machine either side could not read."""
    if here.machine is None or process.machine != here.machine or process.host != here.host:
        return None
    if not 0 < process.pid < _PID_LIMIT:
        return None
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


def is_this_process(process: Process, here: Process) -> bool:
    """`process` names `here` exactly: host name, pid and machine (where this process can read no machine, a
    holder naming none, as this process writes its own)."""
    return process == here
