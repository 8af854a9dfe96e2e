"""The memory budget of ``colorize ui``: what the page keeps, and the heavy work it runs.

A 12 MP colorization holds about 330 MiB of arrays (the result, its lightness and chroma,
the decoded input), and decoding, colorizing or writing one costs more while it runs. The
page counts both in bytes against one budget for its whole process:

* every cached value (photos, predictions, results) is weighed by the numpy arrays and
  byte strings it holds, each array counted once however many results share it;
* every heavy job (decoding an upload, colorizing, writing the full-size PNG) reserves an
  estimate of its peak while it runs: its pixels times the bytes per pixel measured for
  that stage (the ``*_BYTES_PER_PIXEL`` constants, measured in docs/reliability.md), and
  hands the reservation over to what it stores when it stores it;
* the rest of the process (interpreter, libraries, loaded models) is measured: its
  resident memory less what is counted, re-read after every job.

A job starts when one of ``jobs`` slots is free and its estimate fits; the oldest cached
values not in use by a running job are dropped (and their files deleted) to make room.
Otherwise it waits for a running job to end; a job that cannot fit even with every cache
emptied is refused at once with :class:`OverBudgetError` (HTTP 413), and more than
``max_waiting`` waiting requests get :class:`BusyError` (HTTP 503).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BusyError",
    "Job",
    "MemoryBudget",
    "OverBudgetError",
    "available_memory",
    "default_budget",
    "held_bytes",
    "resident_bytes",
]

MIB = 1 << 20
#: Peak bytes per pixel of each heavy stage above what was there before, as estimates
#: reserved by its jobs: measured at 12 MP (VmHWM after ``/proc/self/clear_refs``; see
#: docs/reliability.md) and rounded up by a quarter or more. Opening an upload and making
#: its preview (measured 6-8); one colorization with its light result (36 for
#: cnn-regression, 47 for larsson); each further sample (23, pixcolor); the prediction kept
#: for hints (28-32); re-colouring it with hints and the result (29-34); writing the
#: full-size PNG (48); a reference photo (about 9).
DECODE_BYTES_PER_PIXEL = 12
COLORIZE_BYTES_PER_PIXEL = 60
SAMPLE_BYTES_PER_PIXEL = 36
PREDICTION_BYTES_PER_PIXEL = 36
HINTS_BYTES_PER_PIXEL = 44
SAVE_BYTES_PER_PIXEL = 60
REFERENCE_BYTES_PER_PIXEL = 16
#: A palette (global hints) under the hints: what it adds to re-colouring with hints
#: (measured at 12 MP: 40 B/px for both against 20-22 for hints alone, larsson and
#: cnn-regression; alone it costs about what hints cost).
GLOBAL_HINTS_BYTES_PER_PIXEL = 24
#: Colour suggestions at one point (:meth:`core.Colorization.suggest`): a histogram's
#: bins cost nothing; a sampling method draws 8 colorizations at its working resolution,
#: whatever the photo's size (measured 4-6 MiB above start for pixcolor and semantic on
#: the example photo, once their sampling model is loaded).
SUGGEST_BYTES = 32 * MIB
#: Kept free of the budget for what no estimate covers (request bodies, sockets, the
#: allocator's slack): this fraction of the budget, at least :data:`MIN_HEADROOM`.
HEADROOM_FRACTION = 0.05
MIN_HEADROOM = 48 * MIB
#: Default budget: this fraction of the memory available when the page starts ...
DEFAULT_FRACTION = 0.25
#: ... but at least this much.
MIN_DEFAULT_BUDGET = 1 << 30


class OverBudgetError(Exception):
    """A job larger than the page's memory budget can ever hold."""

    status = 413


class BusyError(Exception):
    """Too many requests are already waiting for the page's workers."""

    status = 503


def mib(nbytes: float) -> str:
    return f"{nbytes / MIB:.0f} MiB"


def available_memory() -> int | None:
    """Bytes of memory available to new work (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def default_budget() -> int:
    """A quarter of the available memory, at least 1 GiB (4 GiB if it cannot be read)."""
    available = available_memory()
    if available is None:
        return 4 << 30
    return max(int(available * DEFAULT_FRACTION), MIN_DEFAULT_BUDGET)


def resident_bytes() -> int:
    """Resident memory of this process (``/proc/self/statm``), 0 where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (hands freed heap pages back to the system), if there."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_TRIM = _malloc_trim()


def held_bytes(values: Iterable[Any]) -> int:
    """Bytes of the numpy arrays and byte strings reachable from ``values``.

    An array is counted by the buffer it views (once, however many arrays or values
    share it); objects are searched through their attributes, dicts, lists and tuples,
    four levels deep.
    """
    seen: dict[int, int] = {}
    for value in values:
        _collect(value, seen, 0)
    return sum(seen.values())


def _collect(value: Any, seen: dict[int, int], depth: int) -> None:
    if isinstance(value, np.ndarray):
        root = value
        while isinstance(root.base, np.ndarray):
            root = root.base
        seen[id(root)] = root.nbytes
    elif isinstance(value, (bytes, bytearray)):
        seen[id(value)] = len(value)
    elif depth < 4 and not isinstance(value, (str, int, float, type)):
        if isinstance(value, dict):
            items: Iterable[Any] = value.values()
        elif isinstance(value, (list, tuple)):
            items = value
        elif hasattr(value, "__dict__"):
            items = vars(value).values()
        else:
            return
        for item in items:
            _collect(item, seen, depth + 1)


@dataclass
class _Entry:
    value: Any
    kind: str
    pins: int = 0


@dataclass
class Job:
    """A running heavy job: its reservation, and the cached values it holds in use."""

    what: str
    reserved: int
    keys: tuple[Hashable, ...] = ()
    values: list[Any] = field(default_factory=list)


class MemoryBudget:
    """Cached values and heavy jobs of one page, within ``limit`` bytes of resident memory.

    Parameters
    ----------
    limit : int
        Bytes the whole process may hold.
    jobs : int
        Heavy jobs running at once.
    counts : dict of str to int
        Most values of each kind kept (oldest dropped first), whatever their size.
    on_evict : callable
        Called with ``(key, value)`` for each value dropped (outside the lock).
    max_waiting : int
        Requests that may wait for a slot; more get :class:`BusyError`.
    evict_for_room : tuple of str, optional
        Kinds dropped to make room for bytes, in this order (each oldest first; default
        all kinds, oldest first); the others are dropped only by their count (values
        that hold little memory but much else, such as files).
    evict_when_busy : tuple of str, optional
        The kinds of ``evict_for_room`` that are dropped to start a job beside others
        already running (default the same); for the rest, the job waits for them to end.
    """

    def __init__(
        self,
        limit: int,
        *,
        jobs: int = 2,
        counts: dict[str, int] | None = None,
        on_evict: Callable[[Hashable, Any], None] | None = None,
        max_waiting: int = 64,
        evict_for_room: tuple[str, ...] | None = None,
        evict_when_busy: tuple[str, ...] | None = None,
    ) -> None:
        if limit <= 0:
            raise ValueError(f"memory budget must be positive, got {limit} bytes")
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.limit = limit
        self.jobs = jobs
        self.counts = dict(counts or {})
        self.on_evict = on_evict
        self.max_waiting = max_waiting
        self.evict_for_room = evict_for_room
        self.evict_when_busy = evict_for_room if evict_when_busy is None else evict_when_busy
        self.headroom = max(MIN_HEADROOM, int(limit * HEADROOM_FRACTION))
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._cached = 0
        self._reserved = 0
        self._running = 0
        self._waiting = 0
        self._condition: asyncio.Condition | None = None
        self._floor = resident_bytes()
        self.base = self._floor  # the process outside the accounting

    # -- figures -----------------------------------------------------------------------

    @property
    def room(self) -> int:
        """Bytes left for cached values and jobs: the limit less the process and headroom."""
        return self.limit - self.base - self.headroom

    def cached_bytes(self) -> int:
        with self._lock:
            return self._cached

    def figures(self) -> dict[str, int]:
        """The accounting now, in bytes (for tests and diagnostics)."""
        with self._lock:
            return {
                "limit": self.limit,
                "base": self.base,
                "headroom": self.headroom,
                "cached": self._cached,
                "reserved": self._reserved,
                "running": self._running,
                "waiting": self._waiting,
                "entries": len(self._entries),
            }

    def fits_alone(self, nbytes: int, what: str) -> None:
        """Raise :class:`OverBudgetError` if a job of ``nbytes`` can never start."""
        if nbytes > self.room:
            raise OverBudgetError(
                f"{what} needs about {mib(nbytes)} of memory, more than the page's memory "
                f"budget leaves for work ({mib(max(self.room, 0))} of {mib(self.limit)}; "
                f"the program and its models hold {mib(self.base)}); use a smaller photo, "
                "or start the page with a larger budget (colorize ui --memory-mib, or "
                "COLORIZE_UI_MEMORY_MIB)"
            )

    # -- the caches --------------------------------------------------------------------

    def get(self, key: Hashable) -> Any:
        """The value cached under ``key`` (now the most recent), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def put(self, key: Hashable, value: Any, kind: str, job: Job | None = None) -> None:
        """Cache ``value``; what it adds is taken from ``job``'s reservation, if given.

        Older values are dropped while a kind is over its count or the whole over the
        budget (values in use by a running job stay).
        """
        with self._lock:
            before = self._cached
            old = self._entries.pop(key, None)
            self._entries[key] = _Entry(value, kind, old.pins if old else 0)
            self._cached = held_bytes(e.value for e in self._entries.values())
            if job is not None:
                handed = min(job.reserved, max(self._cached - before, 0))
                job.reserved -= handed
                self._reserved -= handed
            evicted = self._evict(0, kind)
        self._dropped(evicted)

    def clear(self) -> None:
        """Drop every value (``on_evict`` for each)."""
        with self._lock:
            evicted = [(key, entry.value) for key, entry in self._entries.items()]
            self._entries.clear()
            self._cached = 0
        self._dropped(evicted)

    def _evict(self, need: int, kind: str | None = None) -> list[tuple[Hashable, Any]]:
        """Drop the oldest unpinned values until ``need`` more bytes fit (lock held).

        ``kind`` first drops the values of that kind over its count.
        """
        evicted = []
        if kind is not None and kind in self.counts:
            same = [k for k, e in self._entries.items() if e.kind == kind]
            for key in same[: max(len(same) - self.counts[kind], 0)]:
                if not self._entries[key].pins:
                    evicted.append((key, self._entries.pop(key).value))
            self._cached = held_bytes(e.value for e in self._entries.values())
        kinds = self.evict_when_busy if self._running else self.evict_for_room
        for kind in kinds or (None,):
            for key in list(self._entries):
                if self._cached + self._reserved + need <= self.room:
                    return evicted
                entry = self._entries[key]
                if entry.pins or (kind is not None and entry.kind != kind):
                    continue
                evicted.append((key, self._entries.pop(key).value))
                self._cached = held_bytes(e.value for e in self._entries.values())
        return evicted

    def _dropped(self, evicted: list[tuple[Hashable, Any]]) -> None:
        if self.on_evict is not None:
            for key, value in evicted:
                self.on_evict(key, value)

    # -- jobs --------------------------------------------------------------------------

    @asynccontextmanager
    async def job(
        self,
        cost: Callable[[list[Any]], int],
        what: str,
        keys: Iterable[Hashable] = (),
    ) -> AsyncIterator[Job]:
        """Run a heavy job: wait for a slot and room for ``cost(values)`` bytes.

        ``keys`` name cached values the job uses: they are looked up when it is admitted
        (``None`` for one not cached), passed to ``cost`` and kept from eviction until it
        ends (:attr:`Job.values`).

        Raises
        ------
        OverBudgetError
            The job does not fit even with every unused cached value dropped, and no
            other job is running whose end could make room.
        BusyError
            ``max_waiting`` requests are waiting already.
        """
        job = Job(what, 0, tuple(keys))
        condition = self._condition_here()
        async with condition:
            if self._waiting >= self.max_waiting:
                raise BusyError(
                    f"the page is busy ({self._waiting} requests waiting for "
                    f"{self.jobs} workers); try again in a moment"
                )
            self._waiting += 1
            try:
                while not self._admit(job, cost):
                    await condition.wait()
            finally:
                self._waiting -= 1
        try:
            yield job
        finally:
            self._finish(job)
            async with condition:
                condition.notify_all()

    def _condition_here(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    def _admit(self, job: Job, cost: Callable[[list[Any]], int]) -> bool:
        evicted: list[tuple[Hashable, Any]] = []
        with self._lock:
            if self._running >= self.jobs:
                return False
            values, pinned = [], []
            job_values = values
            for key in job.keys:
                entry = self._entries.get(key)
                values.append(None if entry is None else entry.value)
                if entry is not None:  # its own values are not evicted to make room for it
                    entry.pins += 1
                    pinned.append(entry)
            nbytes = int(cost(values))
            if nbytes <= self.room:
                evicted = self._evict(nbytes)
            fits = nbytes <= self.room and self._cached + self._reserved + nbytes <= self.room
            if fits:
                for key in job.keys:
                    if key in self._entries:
                        self._entries.move_to_end(key)
                job.values = values
                job.reserved = nbytes
                self._reserved += nbytes
                self._running += 1
            else:
                for entry in pinned:
                    entry.pins -= 1
            running = self._running
        if nbytes > self.room:
            self.fits_alone(nbytes, job.what)  # raises
        self._dropped(evicted)
        if not fits and running == 0:  # nothing will free more: what is left is its own
            raise OverBudgetError(
                f"{job.what} needs about {mib(nbytes)} of memory beside the "
                f"{mib(held_bytes(job_values))} it works on, more than the page's memory "
                f"budget leaves for work ({mib(max(self.room, 0))} of {mib(self.limit)}); "
                "start the page with a larger budget (colorize ui --memory-mib, or "
                "COLORIZE_UI_MEMORY_MIB)"
            )
        return fits

    def _finish(self, job: Job) -> None:
        with self._lock:
            for key in job.keys:
                entry = self._entries.get(key)
                if entry is not None and entry.pins:
                    entry.pins -= 1
            self._reserved -= job.reserved
            job.reserved = 0
            self._running -= 1
            idle = self._running == 0
        self._measure(idle)

    def _measure(self, idle: bool) -> None:
        """Re-read the memory outside the accounting (after a job ended)."""
        if idle and _TRIM is not None:
            _TRIM(0)
        rss = resident_bytes()
        if not rss:
            return
        with self._lock:
            outside = rss - self._cached - self._reserved
            if idle:
                self.base = max(self._floor, outside)
            else:  # running jobs may not have used all they reserved yet: only ever raise
                self.base = max(self.base, outside)
