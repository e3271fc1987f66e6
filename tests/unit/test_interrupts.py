"""Interrupts are held while a principal's steps run: the block finishes, then the run stops."""

from __future__ import annotations

import os
import signal

import pytest

from migrator.run.interrupts import InterruptGuard


def test_an_interrupt_is_held_until_the_block_is_over() -> None:
    said: list[str] = []
    finished = []
    guard = InterruptGuard(said.append)
    with pytest.raises(KeyboardInterrupt), guard.hold("the steps of role/Admin"):
        os.kill(os.getpid(), signal.SIGINT)
        finished.append("create-entry")
        finished.append("associate-policy")
    assert finished == ["create-entry", "associate-policy"]
    assert said == ["interrupted: finishing the steps of role/Admin first (interrupt again to abort at once)"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_sigterm_is_held_like_ctrl_c_and_a_second_interrupt_aborts_at_once() -> None:
    finished = []
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), InterruptGuard(lambda text: None).hold("x"):
        os.kill(os.getpid(), signal.SIGTERM)
        finished.append("first")
        os.kill(os.getpid(), signal.SIGINT)
        finished.append("never")
    assert finished == ["first"]
    assert signal.getsignal(signal.SIGTERM) is previous


def test_without_an_interrupt_nothing_happens() -> None:
    with InterruptGuard(lambda text: None).hold("x"):
        pass
