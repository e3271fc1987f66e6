"""Which machine a holder's pid belongs to: the boot id and pid namespace read from a /proc tree (a folder of
tmp_path here, passed in), and the machine lock file's holder judged by our pids only on our machine."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from migrator.run.lock import ClusterLock, LockHolder, holder_alive, read_holder
from migrator.run.machine import Process, machine_identity

BOOT = "6b11095c-6774-4cef-9d02-fba9a7505ba2"
OURS = f"{BOOT}/pid:[4026531836]"
HERE = Process(socket.gethostname(), os.getpid(), OURS)
GONE_PID = 2**22 + 12345  # above Linux's largest pid_max: no process has it


def fake_proc(root: Path, boot_id: str | None, namespace: str | None) -> Path:
    if boot_id is not None:
        (root / "sys" / "kernel" / "random").mkdir(parents=True)
        (root / "sys" / "kernel" / "random" / "boot_id").write_text(boot_id + "\n", encoding="ascii")
    if namespace is not None:
        (root / "self" / "ns").mkdir(parents=True)
        (root / "self" / "ns" / "pid").symlink_to(namespace)  # as the kernel shows it: a link to nowhere
    return root


def test_the_machine_is_the_boot_id_and_the_pid_namespace(tmp_path: Path) -> None:
    assert machine_identity(fake_proc(tmp_path, BOOT, "pid:[4026532311]")) == f"{BOOT}/pid:[4026532311]"


@pytest.mark.parametrize(
    ("boot_id", "namespace"),
    [
        pytest.param(None, None, id="no-proc"),
        pytest.param(BOOT, None, id="no-pid-namespace"),
        pytest.param(None, "pid:[4026531836]", id="no-boot-id"),
        pytest.param("", "pid:[4026531836]", id="empty-boot-id"),
        pytest.param(BOOT, "net:[4026531840]", id="not-a-pid-namespace"),
        pytest.param("not a boot id", "pid:[4026531836]", id="not-a-boot-id"),
    ],
)
def test_a_machine_that_cannot_be_read_is_none(tmp_path: Path, boot_id: str | None, namespace: str | None) -> None:
    assert machine_identity(fake_proc(tmp_path, boot_id, namespace)) is None


def test_this_process_reads_its_machine_on_linux() -> None:
    here = Process.this()
    assert here.pid == os.getpid() and here.host == socket.gethostname()
    assert here.machine is not None and here.machine == machine_identity()


@pytest.mark.parametrize(
    ("machine", "alive"),
    [
        pytest.param(OURS, False, id="ours"),
        pytest.param("0c4d2e7a-1b3f-4a5e-8d9c-7f6e5d4c3b2a/pid:[4026531836]", None, id="another-boot"),
        pytest.param(f"{BOOT}/pid:[4026532311]", None, id="another-pid-namespace"),
        pytest.param(None, None, id="none-an-older-version"),
    ],
)
def test_a_lock_file_holder_of_our_host_name_is_judged_by_our_pids_only_on_our_machine(
    machine: str | None, alive: bool | None
) -> None:
    # A lock directory shared by containers (one volume) holds pids of other pid namespaces: `status` judged them
    # by ours, and said a live run's holder was gone.
    holder = LockHolder.parse(LockHolder(GONE_PID, HERE.host, "p", "t", machine).to_json())
    assert holder is not None and holder.machine == machine
    assert holder_alive(holder, HERE) is alive
    assert holder_alive(holder, Process(HERE.host, HERE.pid, None)) is None  # we cannot read ours: cannot tell


def test_the_lock_file_names_this_process_and_its_machine(tmp_path: Path) -> None:
    path = tmp_path / "prod.lock"
    with ClusterLock(path, "prod", "plan-one"):
        holder = read_holder(path)
        assert holder is not None and (holder.pid, holder.host) == (os.getpid(), socket.gethostname())
        assert holder.machine == machine_identity() and holder_alive(holder) is True


def test_a_lock_file_naming_a_pid_no_int_can_hold_is_no_holder() -> None:
    # `"pid": 1e999` (edited by hand) raised OverflowError from `status` and apply: exit 1, an internal error.
    assert LockHolder.parse(f'{{"pid": 1e999, "host": "{HERE.host}", "planId": "p", "startedAt": "t"}}') is None
