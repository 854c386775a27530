"""Per-run timeouts on a shared engine: one ticker thread advances the engine's epoch.

``Engine.increment_epoch`` moves the clock of every store of an engine, so a run cannot stop
itself by "deadline 1, then one increment when my time is up" without stopping every other run
of the engine with it. Instead, while any run with a timeout is active, one daemon thread per
engine increments the epoch every `TICK` seconds, and each store's deadline is its timeout in
ticks (rounded up, plus one for the tick already under way). A run with no timeout has a
deadline no ticker ever reaches. The thread exits after `LINGER` seconds without timed runs,
so an idle engine costs nothing.

The engine's epoch then belongs to wasmcache: a store of your own on the same engine must not
count on it (give it ``NO_DEADLINE``).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from wasmtime import Engine, Store

TICK = 0.005  # seconds between increments while a timed run is active
LINGER = 1.0  # seconds an idle ticker waits for the next timed run before its thread exits
#: a deadline (in ticks) that no ticker reaches: about 700 million years at one tick per 5 ms
NO_DEADLINE = 2**62


class EpochTicker:
    """Advances one engine's epoch while any run with a timeout is active."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._lock = threading.Condition()
        self._active = 0
        self._thread: threading.Thread | None = None

    @staticmethod
    def ticks(timeout: float) -> int:
        """The deadline, in ticks, that never stops a run before `timeout` seconds."""
        if timeout >= NO_DEADLINE * TICK:  # inf included
            return NO_DEADLINE
        return math.ceil(timeout / TICK) + 1

    @contextmanager
    def deadline(self, store: Store, timeout: float | None) -> Iterator[None]:
        """Let the guest in `store` run for at most `timeout` seconds (None: no limit)."""
        if timeout is None:
            store.set_epoch_deadline(NO_DEADLINE)
            yield
            return
        store.set_epoch_deadline(self.ticks(timeout))
        with self._lock:
            self._active += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wasmcache-epoch",
                                                daemon=True)
                self._thread.start()
            else:
                self._lock.notify()
        try:
            yield
        finally:
            store.set_epoch_deadline(NO_DEADLINE)
            with self._lock:
                self._active -= 1

    def _run(self) -> None:
        lock = self._lock
        while True:
            with lock:
                if not self._active and not lock.wait_for(lambda: self._active, LINGER):
                    self._thread = None
                    return
            engine = self._engine()
            if engine is None:
                return
            time.sleep(TICK)  # without the lock: runs start and end meanwhile
            engine.increment_epoch()
            del engine  # an engine nobody else holds may go while the ticker waits


_tickers: weakref.WeakKeyDictionary[Engine, EpochTicker] = weakref.WeakKeyDictionary()
_tickers_lock = threading.Lock()


def ticker_for(engine: Engine) -> EpochTicker:
    """The one ticker of `engine` (two tickers would advance its epoch twice as fast)."""
    with _tickers_lock:
        ticker = _tickers.get(engine)
        if ticker is None:
            ticker = _tickers[engine] = EpochTicker(engine)
        return ticker
