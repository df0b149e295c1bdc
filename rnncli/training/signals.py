"""Ctrl-C and SIGTERM during training: finish the step in progress, then stop (the caller saves)."""

from __future__ import annotations

import signal
import threading

from rnncli.errors import Terminated


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class InterruptGuard:
    """While active, Ctrl-C (SIGINT) or SIGTERM (what job schedulers and ``timeout`` send before
    SIGKILL) only sets ``requested`` to the signal's number; training then finishes the step in
    progress, saves a checkpoint and stops. A second signal stops at once (KeyboardInterrupt, or
    :class:`rnncli.errors.Terminated`). Outside the main thread, or for a signal that is ignored
    (``nohup`` ignores SIGINT), nothing changes."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                previous = signal.getsignal(sig)
                if previous is not signal.SIG_IGN:
                    self._previous[sig] = previous if previous is not None else signal.SIG_DFL
                    signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested is not None:
            if signum == signal.SIGTERM:
                raise Terminated()
            raise KeyboardInterrupt
        self.requested = signum

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
