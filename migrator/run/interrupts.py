"""Hold Ctrl-C (SIGINT) and SIGTERM while a principal's entry and its policies run, so an interrupt never
leaves a bare entry behind: the unit in flight finishes (or is compensated), is journaled, and only then does
the run stop with KeyboardInterrupt (exit 130). A second interrupt while one is held aborts at once; the
journal stays true even then, since every mutating call is journaled as started before it is made, and a
resumed run checks the cluster for what a started step did.

Signal handlers belong to the main thread; elsewhere (units in worker threads, whose main thread waits for
them to finish when interrupted) holding is not needed and is a no-op.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class InterruptGuard:
    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._pending: int | None = None

    @contextlib.contextmanager
    def sigterm_as_ctrl_c(self) -> Iterator[None]:
        """For a whole run: SIGTERM (a CI job cancelled) becomes KeyboardInterrupt, as Ctrl-C is, so that
        between units, and while concurrent units finish, it stops the run the same careful way rather than
        killing the process between a create and its policy."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    @contextlib.contextmanager
    def hold(self, what: str) -> Iterator[None]:
        """Defer interrupts until the block is over; then raise KeyboardInterrupt if one came."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in HELD_SIGNALS}

        def held(signum: int, frame: FrameType | None) -> None:
            if self._pending is not None:
                raise KeyboardInterrupt  # the second one: abort now
            self._pending = signum
            self._say(f"interrupted: finishing {what} first (interrupt again to abort at once)")

        for sig in HELD_SIGNALS:
            signal.signal(sig, held)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._pending is not None:
            self._pending = None
            raise KeyboardInterrupt
