"""Batch colorization of image files: the one loop behind ``colorize image``.

A batch is a list of :class:`FileJob` (a source file and the output files it gives) and
one :class:`BatchSettings`. :func:`run_file` does one job and turns what went wrong into
a :class:`FileOutcome`; :func:`run_batch` runs the jobs, in this process (``workers=0``)
or on a pool of worker processes, with the same rules either way (docs/scaling.md,
docs/reliability.md "Batch faults"):

* outputs that all exist already are skipped (unless ``overwrite``), and output paths must
  stay inside the output folder;
* an input is never written over (:func:`check_outputs`), and an output folder inside an
  input folder is not searched for inputs;
* one bad file is reported and the batch goes on; a write error that will hit every file
  alike (disk full, read-only, no permission) stops it with one message, and so does an
  unknown method;
* an interrupt (SIGINT, or SIGTERM through :func:`core.cli.main`) stops the batch: the
  files already finished are complete, no partial file is left under a final name, and a
  re-run only does the missing files.

Each worker loads the method once, with ``threads`` intra-op threads (:func:`pool_shape`);
on Linux workers are forked (they see this process's registry, methods registered in code
included), elsewhere spawned. The outputs are the same bytes as in this process.
:mod:`colorize_ray.distributed` runs :func:`run_file` on Ray actors.
"""

from __future__ import annotations

import colorsys
import contextlib
import ctypes
import errno
import functools
import itertools
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core import api
from core.errors import (
    ColorizeError,
    ModelFileError,
    OutputExistsError,
    OutputPathError,
    UnknownMethodError,
)
from core.io import (
    _WRITABLE,
    IMAGE_EXTENSIONS,
    finish_temporary,
    open_temporary,
    remove_live_temporaries,
    save_image,
    stale_temporaries,
)
from core.plugins import get_registry
from core.runtime import _threads

__all__ = [
    "FATAL_WRITE_ERRORS",
    "WORKER_MEMORY_MIB",
    "BatchSettings",
    "BatchSummary",
    "FileJob",
    "FileOutcome",
    "check_outputs",
    "confined",
    "iter_inputs",
    "output_name",
    "plan_jobs",
    "pool_shape",
    "run_batch",
    "run_file",
    "segmentation_overlay",
    "usable_cores",
]

#: Write errors that will hit every file alike: stop the batch with one message.
FATAL_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM})
#: Memory budgeted per worker process when sizing the default pool: the peak the plugin
#: contract allows one colorization of a 12-megapixel photo (``PEAK_MEMORY_MIB`` of
#: colorize_devkit.testing).
WORKER_MEMORY_MIB = 1536


# -- planning ------------------------------------------------------------------------------


def iter_inputs(
    paths: Iterable[str | os.PathLike], *, exclude: str | os.PathLike | None = None
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, path relative to the output folder)`` for files and folders.

    ``paths`` are image files (whatever their extension; they keep only their name) and/or
    folders (searched recursively, sorted, for :data:`core.io.IMAGE_EXTENSIONS`). The output
    folder ``exclude``, when below a searched folder, is not searched (its outputs of an
    earlier run are not inputs).
    """
    skip = os.path.realpath(exclude) if exclude is not None else None
    excluded = functools.cache(lambda folder: confined(Path(skip), folder))  # per folder
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path, Path(path.name)
            continue
        below = skip is not None and skip.startswith(os.path.realpath(path).rstrip(os.sep) + os.sep)
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in IMAGE_EXTENSIONS:
                if not (below and excluded(child.parent)):
                    yield child, child.relative_to(path)


def output_name(rel: Path, index: int | None = None) -> Path:
    """The output path for input ``rel``: same name and format (PNG for formats the
    toolkit does not write), ``name_sample{index}`` for sample ``index``."""
    suffix = rel.suffix.lower() if rel.suffix.lower() in _WRITABLE else ".png"
    stem = rel.stem if index is None else f"{rel.stem}_sample{index}"
    return rel.with_name(stem + suffix)


def confined(out_dir: Path, target: Path) -> bool:
    """True when ``target`` resolves (links followed) to a path inside ``out_dir``."""
    root = os.path.realpath(out_dir)
    real = os.path.realpath(target)
    return real == root or real.startswith(root + os.sep)


@dataclass(frozen=True)
class FileJob:
    """One input file and the outputs it gives.

    Attributes
    ----------
    index : int
        Position in the batch (failures are listed in this order).
    source : Path
        The input file.
    targets : tuple of Path
        One output per sample (one without ``--samples``).
    """

    index: int
    source: Path
    targets: tuple[Path, ...]


def plan_jobs(
    inputs: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    *,
    samples: int = 1,
    single_file: bool = False,
) -> list[FileJob]:
    """The jobs of a batch: every image below ``inputs`` and its outputs under ``output``.

    Parameters
    ----------
    inputs : paths
        Image files and/or folders (see :func:`iter_inputs`).
    output : path
        Output folder (the layout below each input folder is kept), or with
        ``single_file`` the output file itself.
    samples : int
        Samples per image: 1 gives ``name.ext``, more give ``name_sample0.ext``, ...
    single_file : bool
        ``output`` is a file name (one input file).

    Raises
    ------
    core.errors.OutputPathError
        An output would be an input file of the batch, or the output folder is an input
        folder (see :func:`check_outputs`).
    ValueError
        ``samples`` is not a positive integer.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    out = Path(output)
    inputs = list(inputs)
    indices: list[int | None] = [None] if samples == 1 else list(range(samples))

    def targets(rel: Path) -> tuple[Path, ...]:
        return (out,) if single_file else tuple(out / output_name(rel, i) for i in indices)

    pairs = enumerate(iter_inputs(inputs, exclude=None if single_file else out))
    jobs = [FileJob(number, source, targets(rel)) for number, (source, rel) in pairs]
    check_outputs(jobs, inputs, out, single_file=single_file)
    return jobs


def check_outputs(
    jobs: Sequence[FileJob],
    inputs: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    *,
    single_file: bool = False,
) -> None:
    """Refuse a batch that would write over its inputs, whatever ``overwrite`` says.

    ``jobs`` come from :func:`plan_jobs` over ``inputs`` (files and folders); ``output`` is
    the output folder, or with ``single_file`` the output file. Raises
    :class:`core.errors.OutputPathError`, naming the folder or file, when the output folder
    is an input folder or an output path is an input file (links followed).
    """
    out = Path(output)
    if not single_file and out.is_dir():
        for raw in inputs:
            if Path(raw).is_dir() and os.path.samefile(raw, out):
                raise OutputPathError(
                    f"output folder {out} is the input folder {raw}: the results would "
                    "replace the inputs or be read as inputs by the next run; choose "
                    "another output folder"
                )

    def file_id(path: Path) -> tuple[int, int] | None:
        try:
            info = os.stat(path)
        except OSError:  # a missing input is reported when its job runs
            return None
        return info.st_dev, info.st_ino

    sources = {file_id(job.source): job.source for job in reversed(jobs)}  # the first names it
    sources.pop(None, None)
    for job in jobs:
        for target in job.targets:
            source = sources.get(file_id(target))
            if source is not None:
                raise OutputPathError(
                    f"{source}: the output would replace this input file (output {target}); "
                    "inputs are never overwritten, choose another output folder or file"
                )


# -- one file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSettings:
    """What every file of a batch is colorized with (the options of ``colorize image``).

    Attributes
    ----------
    method : str or None
        Method name; ``None`` is :func:`core.default_method`.
    samples : int
        1: one colorization per file; more: that many diverse samples.
    seed, reference, decoder, index, options
        Passed to :func:`core.colorize_result` (``seed`` defaults to 0 for samples).
    overwrite : bool
        Replace existing outputs (otherwise a job whose outputs all exist is skipped).
    save_uncertainty, save_segmentation : bool
        Also write ``name_uncertainty.png`` / ``name_segmentation.png`` where given.
    """

    method: str | None = None
    samples: int = 1
    seed: int | None = None
    reference: Any = None
    decoder: str | None = None
    index: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    save_uncertainty: bool = False
    save_segmentation: bool = False


@dataclass(frozen=True)
class FileOutcome:
    """What became of one :class:`FileJob`.

    Attributes
    ----------
    status : {"done", "failed", "fatal"}
        ``fatal``: a write error that stops the batch (``error`` is its reason).
    error : str
        The error message ("" when done); it names the file.
    stop : bool
        The batch cannot go on (an unknown method).
    notes : tuple of str
        Notes of the results (e.g. an input's colour profile was ignored).
    seconds : float
        Wall time of the job.
    """

    status: str
    error: str = ""
    stop: bool = False
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


def segmentation_overlay(result, alpha: float = 0.5):
    """The result's RGB blended with a colour per predicted class (H, W, 3) float32.

    Class ``k`` gets a fixed hue (golden-ratio steps), so the same class has the same
    colour in every image; used by ``colorize image --save-segmentation``.
    """
    labels = np.asarray(result.segmentation, np.int64)
    count = max(int(labels.max()) + 1, len(result.class_names), 1)
    palette = np.array(
        [colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.85, 0.95) for k in range(count)], np.float32
    )
    colours = palette[np.clip(labels, 0, count - 1)]
    return (1.0 - alpha) * result.rgb + alpha * colours


def save_result(result: Any, target: Path, settings: BatchSettings) -> list[Path]:
    """Write ``result`` to ``target``, and ``<stem>_uncertainty.png`` /
    ``<stem>_segmentation.png`` beside it where asked and given; the paths written."""
    written = [result.save(target, overwrite=settings.overwrite)]
    extras = []
    if settings.save_uncertainty and result.uncertainty is not None:
        extras.append(("uncertainty", result.uncertainty_image()[..., None].repeat(3, -1)))
    if settings.save_segmentation and result.segmentation is not None:
        extras.append(("segmentation", segmentation_overlay(result)))
    for name, rgb in extras:
        path = target.with_name(f"{target.stem}_{name}.png")
        written.append(save_image(path, rgb, overwrite=settings.overwrite))
    return written


def _colorize_and_save(settings: BatchSettings, job: FileJob, notes: list[str]) -> None:
    """Colorize ``job.source`` and write the outputs that are missing (all with overwrite)."""
    common = dict(reference=settings.reference, index=settings.index, **settings.options)
    if settings.samples == 1:
        single = dict(seed=settings.seed, decoder=settings.decoder, **common)
        results = [api.colorize_result(job.source, settings.method, **single)]
    else:
        results = api.sample_results(
            job.source, settings.method, settings.samples, seed=settings.seed or 0, **common
        )
    for result, target in zip(results, job.targets, strict=True):
        if settings.overwrite or not target.exists():
            save_result(result, target, settings)
            notes.extend(result.metadata.get("notes", []))


def run_file(settings: BatchSettings, job: FileJob) -> FileOutcome:
    """Colorize one file and write its outputs atomically; never raises for a bad file.

    Errors a user can cause (:class:`core.errors.ColorizeError`, ``ValueError``,
    ``TypeError``, ``OSError``) and running out of memory (``MemoryError``, or a
    ``cv2.error``, OpenCV's report of a failed allocation) give a ``failed`` outcome with
    the message. A write error of :data:`FATAL_WRITE_ERRORS` is ``fatal``; an unknown
    method or an unloadable model file is ``failed`` with ``stop``. Anything else is a bug
    and propagates.
    """
    notes: list[str] = []
    t0 = time.perf_counter()

    def outcome(status: str, error: str = "", stop: bool = False) -> FileOutcome:
        return FileOutcome(status, error, stop, tuple(notes), time.perf_counter() - t0)

    try:
        _colorize_and_save(settings, job, notes)
    except OSError as exc:
        if exc.errno in FATAL_WRITE_ERRORS and not isinstance(exc, OutputExistsError):
            return outcome("fatal", str(exc.strerror or exc))
        return outcome("failed", str(exc))
    except (ColorizeError, ValueError, TypeError) as exc:
        stop = isinstance(exc, (UnknownMethodError, ModelFileError))
        return outcome("failed", str(exc), stop=stop)
    except MemoryError as exc:
        detail = (str(exc).strip().splitlines() or ["MemoryError"])[0]
        return outcome("failed", f"{job.source}: not enough memory to colorize it ({detail})")
    except cv2.error as exc:
        detail = ([ln.strip() for ln in str(exc).splitlines() if ln.strip()] or ["cv2.error"])[-1]
        return outcome("failed", f"{job.source}: OpenCV failed ({detail})")
    return outcome("done")


# -- the batch -----------------------------------------------------------------------------


@dataclass
class BatchSummary:
    """The tally of a batch.

    Attributes
    ----------
    total : int
        Jobs in the batch.
    done, skipped : int
        Jobs colorized, and jobs skipped because all their outputs exist.
    failed : list of (str, str)
        ``(source, error)`` per failed job, in batch order.
    fatal : str or None
        Why the batch stopped early (e.g. ``"cannot write to out: No space left..."``).
    interrupted : bool
        Stopped by SIGINT / SIGTERM.
    workers : int
        Worker processes (or Ray actors) used; 0: in the calling process.
    seconds : float
        Wall time of the batch.
    file_seconds : float
        Sum of the wall times of the jobs run (as measured where they ran).
    output : str
        The output folder (or file), for the report.
    """

    total: int
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    fatal: str | None = None
    interrupted: bool = False
    workers: int = 0
    seconds: float = 0.0
    file_seconds: float = 0.0
    output: str = ""

    @property
    def exit_code(self) -> int:
        """The exit code of ``colorize image``: 130 interrupted, 1 on a failure, else 0."""
        if self.interrupted and not self.fatal:
            return 130
        return 1 if self.fatal or self.failed else 0

    def report(self, file: Any = None) -> None:
        """Print the summary lines of ``colorize image`` (to stderr by default)."""
        say = functools.partial(print, file=sys.stderr if file is None else file)
        say(
            f"colorized {self.done}, skipped {self.skipped} (output exists), failed "
            f"{len(self.failed)} of {self.total} file(s); results in {self.output}"
        )
        for name, error in self.failed:
            say(f"  FAILED {name}: {error}")
        left = self.total - self.done - self.skipped - len(self.failed)
        if self.fatal:
            say(f"colorize: {self.fatal}; stopped")
        elif self.interrupted:
            say("interrupted: finished files are complete; re-run to do the rest")
        elif left > 0:
            say(
                f"stopped: {left} other file(s) not colorized; the error above would repeat "
                "for each"
            )


class _Tally:
    """Adds outcomes up into a :class:`BatchSummary`, with one rule for every runner."""

    def __init__(self, total: int, output: str, write: Callable[[str], Any]):
        self.summary = BatchSummary(total, output=output)
        self.write = write
        self._failed: list[tuple[int, str, str]] = []
        self.stopped = False

    def refuse(self, job: FileJob, error: str) -> None:
        self._failed.append((job.index, str(job.source), error))

    def add(self, job: FileJob, outcome: FileOutcome) -> bool:
        """Count one outcome; True when the batch must stop."""
        s = self.summary
        s.file_seconds += outcome.seconds
        for note in outcome.notes:
            self.write(f"note: {job.source}: {note}")
        if outcome.status == "done":
            s.done += 1
        elif outcome.status == "fatal":
            if s.fatal is None:
                s.fatal = f"cannot write to {s.output}: {outcome.error}"
                self.stopped = True
        elif not (outcome.stop and self.stopped):  # one unknown-method line, not one a worker
            self._failed.append((job.index, str(job.source), outcome.error))
            self.write(f"error: {outcome.error}")
            self.stopped = self.stopped or outcome.stop
        return self.stopped

    def finish(self, started: float) -> BatchSummary:
        self.summary.failed = [(name, error) for _, name, error in sorted(self._failed)]
        self.summary.seconds = time.perf_counter() - started
        return self.summary


def _triage(
    jobs: Sequence[FileJob], settings: BatchSettings, out: Path, single_file: bool, tally: _Tally
) -> list[FileJob]:
    """The jobs to run: refuses outputs outside ``out``, skips jobs whose outputs exist
    and photos that crashed their worker in an earlier run (:data:`CRASH_RECORD`)."""
    crashed = {} if single_file else _read_crashes(out)
    todo: list[FileJob] = []
    for job in jobs:
        if not single_file and not all(confined(out, t) for t in job.targets):
            tally.refuse(job, "output path escapes the output folder")
        elif not settings.overwrite and all(t.exists() for t in job.targets):
            tally.summary.skipped += 1
        elif crashed and _crash_key(job.source, settings) in crashed:
            tally.refuse(
                job,
                f"{job.source}: crashed its worker process in an earlier run; skipped "
                f"(delete {out / CRASH_RECORD} to try it again)",
            )
        else:
            todo.append(job)
    return todo


#: File in the output folder that lists the photos that crashed a worker process (by
#: path, size, modification time and method), so that re-runs name and skip them.
CRASH_RECORD = ".colorize-crashed.json"


def _crash_key(source: Path, settings: BatchSettings) -> str | None:
    try:
        stat = source.stat()
    except OSError:
        return None
    return f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{settings.method or ''}"


def _read_crashes(out: Path) -> dict[str, str]:
    try:
        data = json.loads((out / CRASH_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: nothing is skipped
        return {}
    crashed = data.get("crashed") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in crashed.items()} if isinstance(crashed, dict) else {}


def _record_crash(out: Path, job: FileJob, settings: BatchSettings, error: str) -> None:
    """Add ``job``'s photo to :data:`CRASH_RECORD` (atomically; best effort)."""
    key = _crash_key(job.source, settings)
    if key is None:
        return
    crashed = _read_crashes(out)
    crashed[key] = error
    with contextlib.suppress(OSError):  # the batch's own report still names the photo
        fd, tmp = open_temporary(out, prefix=".colorize-crashed.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "crashed": crashed}, handle, indent=1)
        finish_temporary(tmp, out / CRASH_RECORD)


def usable_cores() -> int:
    """CPU cores this process may use: its affinity mask, bounded by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    return max(1, cores)


def _available_mib() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return None


def pool_shape(workers: int | None = None, files: int | None = None) -> tuple[int, int]:
    """``(workers, threads per worker)`` for a batch of ``files`` files.

    Parameters
    ----------
    workers : int, optional
        Worker processes asked for (0 or 1: in the calling process). By default the usable
        cores (:func:`usable_cores`), divided by ``COLORIZE_THREADS`` when set, at most one
        per :data:`WORKER_MEMORY_MIB` of available memory. A batch that would get one
        worker runs in the calling process (a pool of one only adds start-up and transfers).
    files : int, optional
        Files to colorize: no more workers than files are started.

    Returns
    -------
    (int, int)
        Workers (0: in this process) and intra-op threads per worker: ``COLORIZE_THREADS``
        when set (0: ONNX Runtime's own choice), else the cores divided among the workers.

    Raises
    ------
    ValueError
        A negative ``workers``, or a malformed ``COLORIZE_THREADS``.
    """
    env = _threads()
    cores = usable_cores()
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if workers is None:
        workers = max(1, cores // env) if env else cores
        memory = _available_mib()
        if memory is not None:
            workers = min(workers, max(1, memory // WORKER_MEMORY_MIB))
    if files is not None:
        workers = min(workers, max(1, files))
    if workers <= 1:  # one worker: in this process
        return 0, env
    return workers, env or max(1, cores // workers)


def run_batch(
    jobs: Sequence[FileJob],
    settings: BatchSettings,
    *,
    output: str | os.PathLike,
    single_file: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Colorize a batch of files; the loop of ``colorize image``.

    Parameters
    ----------
    jobs : sequence of FileJob
        From :func:`plan_jobs`.
    settings : BatchSettings
    output : path
        The output folder (outputs must resolve inside it), or with ``single_file`` the one
        job's output file (no confinement check).
    single_file : bool
    workers : int, optional
        Worker processes (:func:`pool_shape`); 0 or 1 runs in this process.
    progress : bool
        Show a progress bar (tqdm).

    Returns
    -------
    BatchSummary
        Also when interrupted (``interrupted=True``) or stopped (``fatal``).

    Raises
    ------
    ValueError
        A negative ``workers`` or a malformed ``COLORIZE_THREADS``, before any file is read.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    _threads()  # a malformed COLORIZE_THREADS is refused before any work
    out = Path(output)
    bar = tqdm(total=len(jobs), unit="img", desc="colorize", disable=not progress or None)
    tally = _Tally(len(jobs), str(out), bar.write)
    todo = _triage(jobs, settings, out, single_file, tally)
    bar.update(len(jobs) - len(todo))
    count, threads = pool_shape(workers, len(todo)) if todo else (0, 0)
    tally.summary.workers = count
    current: FileJob | None = None  # the job in progress in this process
    try:
        if count == 0:
            for current in todo:
                stop = tally.add(current, run_file(settings, current))
                bar.update()
                if stop:
                    break
        else:
            _run_pool(todo, settings, count, threads, tally, bar, None if single_file else out)
    except KeyboardInterrupt:
        tally.summary.interrupted = True
        if current is not None:  # the interrupt may have come between two lines of a write
            _remove_stale([current])
    finally:
        bar.close()
    return tally.finish(started)


# -- the process pool ----------------------------------------------------------------------

_worker_settings: BatchSettings | None = None


def _worker_signal(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: remove the temporary file of the write in progress, if any,
    and exit at once, whatever line the write had reached."""
    remove_live_temporaries()
    os._exit(128 + signum)


def _init_worker(settings: BatchSettings, threads: int, parent: int) -> None:
    global _worker_settings
    _worker_settings = settings
    os.environ["COLORIZE_THREADS"] = str(threads)
    # The parent stops the workers itself (SIGTERM) when it is interrupted, so that a
    # Ctrl-C sent to the whole process group is handled once, by the parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_signal)
    _die_with_parent(parent)
    # OpenCV's own thread count is left alone: cv2.setNumThreads in a forked child waits
    # forever for the parent's pool threads, which do not exist there.


def _die_with_parent(parent: int) -> None:
    """Make this worker exit when the batch's process dies, even by ``kill -9``: on Linux
    the kernel sends it SIGTERM (``prctl(PR_SET_PDEATHSIG)``, see :func:`_worker_signal`);
    elsewhere a daemon thread polls the parent's pid."""
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(128 + signal.SIGTERM)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            _worker_signal(signal.SIGTERM, None)

        threading.Thread(target=watch, name="colorize-parent-watch", daemon=True).start()


def _pool_task(job: FileJob) -> FileOutcome:
    assert _worker_settings is not None, "worker not initialised"
    return run_file(_worker_settings, job)


def _remove_stale(jobs: Iterable[FileJob]) -> None:
    """Remove what interrupted or killed writes of ``jobs`` left (see
    :func:`core.io.stale_temporaries`); the processes that wrote them are gone."""
    for job in jobs:
        for target in job.targets:
            for path in stale_temporaries(target):
                path.unlink(missing_ok=True)


#: Photos in a row that crash their worker before the batch stops: past that, the method
#: (or the machine) is the likely cause, not the photos.
MAX_CRASHES_IN_A_ROW = 3


@contextlib.contextmanager
def _pool(
    settings: BatchSettings, workers: int, threads: int, in_flight: Iterable[FileJob]
) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` processes (forked on Linux: they inherit the registry), stopped
    on an interrupt; on leaving, shut down and the leftovers of ``in_flight`` removed."""
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    args = (settings, threads, os.getpid())
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=args)
    try:
        yield pool
    except KeyboardInterrupt:
        # ProcessPoolExecutor has no public way to stop running calls before Python 3.14.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            if process.is_alive():
                process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _remove_stale(in_flight)  # a worker killed outright cannot clean up


def _run_pool(
    todo: Sequence[FileJob],
    settings: BatchSettings,
    workers: int,
    threads: int,
    tally: _Tally,
    bar: Any,
    record: Path | None = None,
) -> None:
    """Run ``todo`` on a pool. When a worker dies outright the files in flight are rerun one
    per fresh process: the culprit fails (and goes in ``record``/:data:`CRASH_RECORD`);
    :data:`MAX_CRASHES_IN_A_ROW` culprits in a row stop the batch."""
    list(get_registry().names("method"))  # load the plugins once, before the workers fork
    queue = iter(todo)
    crashes = 0
    while suspects := _run_pool_until_broken(queue, settings, workers, threads, tally, bar):
        for job in suspects:
            outcome = _run_alone(job, settings, threads)
            if outcome is None:
                crashes += 1
                outcome = FileOutcome(
                    "failed",
                    f"{job.source}: the worker process colorizing it died (a crash, or killed "
                    "for lack of memory?); skipped",
                )
                if record is not None:
                    _record_crash(record, job, settings, outcome.error)
            elif outcome.status == "done":
                crashes = 0
            tally.add(job, outcome)
            bar.update()
            if crashes >= MAX_CRASHES_IN_A_ROW:
                tally.summary.fatal = (
                    f"{crashes} files in a row crashed their worker process; the method "
                    f"{settings.method or '(default)'} itself is the likely cause"
                )
                tally.stopped = True
            if tally.stopped:
                return


def _run_pool_until_broken(
    queue: Iterator[FileJob],
    settings: BatchSettings,
    workers: int,
    threads: int,
    tally: _Tally,
    bar: Any,
) -> list[FileJob]:
    """Run jobs from ``queue`` until it is empty (returns ``[]``) or a worker dies (returns
    the jobs that were in flight, none of them counted)."""
    pending: dict[Future, FileJob] = {}
    with _pool(settings, workers, threads, pending.values()) as pool:

        def refill() -> None:
            for job in itertools.islice(queue, 2 * workers - len(pending)):
                pending[pool.submit(_pool_task, job)] = job

        try:
            refill()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    if future.cancelled():
                        del pending[future]
                        continue
                    outcome = future.result()  # BrokenProcessPool if a worker died
                    tally.add(pending.pop(future), outcome)
                    bar.update()
                if tally.stopped:
                    for future in pending:
                        future.cancel()
                else:
                    refill()
        except BrokenProcessPool:
            return sorted(pending.values(), key=lambda job: job.index)
    return []


def _run_alone(job: FileJob, settings: BatchSettings, threads: int) -> FileOutcome | None:
    """Run one job in a process of its own; ``None`` when that process dies."""
    with _pool(settings, 1, threads, [job]) as pool:
        try:
            return pool.submit(_pool_task, job).result()
        except BrokenProcessPool:
            return None
