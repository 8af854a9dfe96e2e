"""Colorize an archive on a Ray cluster: Ray Data ``map_batches`` over a pool of actors.

Needs the ``ray`` extra (``pip install 'colorize-toolkit[ray]'``); ``import core`` and
``import colorize_ray.distributed`` never import Ray, it is imported by the functions that use it.

* :func:`colorize_files` colorizes image files and folders on the cluster and writes the
  results as ``colorize image`` does: the layout below each input folder is kept, every
  write is atomic, outputs that exist are skipped, a bad file is reported and the rest go
  on. Each actor colorizes with :func:`core.batch.run_file`, the code of the serial
  batch, so the outputs are the same bytes (same seeds for diverse methods). The paths
  must be readable and writable from every node (one machine, or a shared filesystem).
* :func:`colorize_dataset` maps a Ray Dataset (or a list of paths) to a Dataset with the
  colorized images in a column, and an error column for the rows that failed, for
  pipelines that read and write through Ray Data themselves.

In both, ``actors`` actors each hold the method (its ONNX Runtime sessions are created
once per actor) and run ``cpus_per_actor`` ONNX Runtime threads on as many reserved CPUs.
Ray is used as it is found: with a cluster already joined (``ray.init`` called) or
``address`` given, the work goes there; otherwise Ray's own ``ray.init()`` rules apply
(``RAY_ADDRESS``, or a new local cluster, shut down again at the end). See
docs/scaling.md for a multi-node recipe.

Examples
--------
>>> from colorize_ray.distributed import colorize_files
>>> summary = colorize_files(["scans/"], "colour/", "larsson", actors=4)  # doctest: +SKIP
>>> summary.done, summary.failed                                          # doctest: +SKIP
(1200, [('scans/box3/0042.tif', 'scans/box3/0042.tif: cannot read image ...')])
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.batch import (
    BatchSettings,
    BatchSummary,
    FileJob,
    FileOutcome,
    _Tally,
    _triage,
    plan_jobs,
    run_file,
)
from core.errors import ColorizeError

__all__ = ["colorize_dataset", "colorize_files", "main"]

#: Rows per Ray block at most: small blocks spread the files evenly over the actors and
#: let results stream back to the driver as they are finished.
_MAX_ROWS_PER_BLOCK = 32


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ColorizeError(
            f"colorize_ray.distributed needs Ray Data ({exc}); install it with "
            "`pip install 'colorize-toolkit[ray]'`"
        ) from None
    return ray


@contextlib.contextmanager
def _ray_session(address: str | None, progress: bool) -> Iterator[Any]:
    """Ray, initialised: joins ``address`` (or what Ray finds); shuts down only what it
    started itself."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=progress)
    context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars, context.print_on_execution_start
    context.enable_progress_bars = progress
    context.print_on_execution_start = progress
    try:
        yield ray
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved
        if started:
            ray.shutdown()


def _threads(cpus_per_actor: float) -> int:
    if not cpus_per_actor > 0:
        raise ValueError(f"cpus_per_actor must be > 0, got {cpus_per_actor}")
    return max(1, math.floor(cpus_per_actor))


def _check_actors(actors: int) -> int:
    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise ValueError(f"actors must be a positive integer, got {actors!r}")
    return actors


def _blocks(rows: int, actors: int) -> int:
    per_block = max(1, min(_MAX_ROWS_PER_BLOCK, rows // (4 * actors)))
    return max(1, math.ceil(rows / per_block))


def _load_plugins(threads: int) -> None:
    os.environ["COLORIZE_THREADS"] = str(threads)
    from core.plugins import get_registry

    list(get_registry().names("method"))  # once per actor, before the first file


class _FileActor:
    """A Ray actor that colorizes files with :func:`core.batch.run_file`."""

    def __init__(self, settings: BatchSettings, threads: int) -> None:
        _load_plugins(threads)
        self.settings = settings

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outcomes = []
        for index, source, targets in zip(
            batch["index"], batch["source"], batch["targets"], strict=True
        ):
            job = FileJob(int(index), Path(str(source)), tuple(map(Path, json.loads(targets))))
            outcomes.append(run_file(self.settings, job))
        return {
            "index": np.asarray(batch["index"], np.int64),
            "status": np.array([o.status for o in outcomes], dtype=object),
            "error": np.array([o.error for o in outcomes], dtype=object),
            "stop": np.array([o.stop for o in outcomes], dtype=bool),
            "notes": np.array([json.dumps(list(o.notes)) for o in outcomes], dtype=object),
            "seconds": np.array([o.seconds for o in outcomes], dtype=np.float64),
        }


def colorize_files(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    method: str | None = None,
    *,
    actors: int = 2,
    cpus_per_actor: float = 1.0,
    samples: int = 1,
    seed: int | None = None,
    reference: Any = None,
    decoder: str | None = None,
    index: Any = None,
    options: dict[str, Any] | None = None,
    overwrite: bool = False,
    address: str | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Colorize image files and folders on a Ray cluster, written as ``colorize image``.

    Parameters
    ----------
    inputs : sequence of path
        Image files and/or folders (searched recursively, as ``colorize image``).
    output : path
        Output folder; the layout below each input folder is kept
        (:func:`core.batch.plan_jobs`).
    method : str, optional
        Method name; ``None``: the default method (as the actors see it).
    actors : int
        Actors in the pool, each holding the method once.
    cpus_per_actor : float
        CPUs Ray reserves per actor; ``floor`` of it is the actor's ONNX Runtime
        intra-op thread count (at least 1).
    samples, seed, reference, decoder, index, options, overwrite
        As in ``colorize image`` (:class:`core.batch.BatchSettings`); ``reference`` and
        ``index`` must be paths every node can read.
    address : str, optional
        Ray cluster to join (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``);
        ignored when Ray is already initialised.
    progress : bool
        A progress bar over the files (and Ray Data's own progress output).

    Returns
    -------
    core.batch.BatchSummary
        ``workers`` is ``actors``; ``failed`` lists ``(file, error)`` per failed file,
        ``file_seconds`` is the time the actors spent colorizing. When Ray itself gives up
        (actors lost beyond its retries), ``fatal`` says so; the files already finished
        are complete.

    Raises
    ------
    core.errors.ColorizeError
        Ray is not installed.
    core.errors.OutputPathError
        An output would be an input file, or ``output`` is an input folder
        (:func:`core.batch.check_outputs`).
    ValueError
        ``actors``, ``cpus_per_actor`` or ``samples`` out of range.

    Examples
    --------
    >>> summary = colorize_files(["gray/"], "colour/", "larsson", actors=2)  # doctest: +SKIP
    >>> summary.report()                                                      # doctest: +SKIP
    colorized 50, skipped 0 (output exists), failed 0 of 50 file(s); results in colour/
    """
    from tqdm import tqdm

    actors = _check_actors(actors)
    threads = _threads(cpus_per_actor)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    settings = BatchSettings(
        method=method,
        samples=samples,
        seed=seed,
        reference=reference,
        decoder=decoder,
        index=index,
        options=dict(options or {}),
        overwrite=overwrite,
    )
    started = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan_jobs(inputs, out, samples=samples)
    bar = tqdm(total=len(jobs), unit="img", desc="colorize (ray)", disable=not progress or None)
    tally = _Tally(len(jobs), str(out), bar.write)
    tally.summary.workers = actors
    todo = _triage(jobs, settings, out, False, tally)
    bar.update(len(jobs) - len(todo))
    by_index = {job.index: job for job in todo}
    rows = [
        {
            "index": job.index,
            "source": str(job.source),
            "targets": json.dumps([str(t) for t in job.targets]),
        }
        for job in todo
    ]
    try:
        if rows:
            with _ray_session(address, progress) as ray:
                dataset = ray.data.from_items(rows, override_num_blocks=_blocks(len(rows), actors))
                results = dataset.map_batches(
                    _FileActor,
                    fn_constructor_args=(settings, threads),
                    batch_size=1,
                    batch_format="numpy",
                    compute=ray.data.ActorPoolStrategy(size=actors),
                    num_cpus=cpus_per_actor,
                )
                try:
                    for row in results.iter_rows():
                        outcome = FileOutcome(
                            str(row["status"]),
                            str(row["error"]),
                            bool(row["stop"]),
                            tuple(json.loads(str(row["notes"]))),
                            float(row["seconds"]),
                        )
                        stop = tally.add(by_index[int(row["index"])], outcome)
                        bar.update()
                        if stop:
                            break
                except ray.exceptions.RayError as exc:  # actors lost past Ray's retries
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    tally.summary.fatal = f"the Ray job failed: {type(exc).__name__}: {first}"
    except KeyboardInterrupt:
        tally.summary.interrupted = True
    finally:
        bar.close()
    return tally.finish(started)


class _ArrayActor:
    """A Ray actor that colorizes the images (paths or arrays) of one column."""

    def __init__(self, method: str | None, column: str, threads: int, kwargs: dict[str, Any]):
        _load_plugins(threads)
        self.method, self.column, self.kwargs = method, column, kwargs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from core import api

        images = batch[self.column]
        colorized = np.empty(len(images), dtype=object)
        errors = np.empty(len(images), dtype=object)
        for i, image in enumerate(images):
            if isinstance(image, (str, np.str_, bytes)):
                image = os.fsdecode(image)
            try:
                result = api.colorize_result(image, self.method, **self.kwargs)
                colorized[i], errors[i] = result.to_array(np.uint8), ""
            except (ColorizeError, ValueError, TypeError, OSError) as exc:
                colorized[i], errors[i] = np.zeros((0, 0, 3), np.uint8), str(exc)
        return {**batch, "colorized": colorized, "error": errors}


def colorize_dataset(
    dataset: Any,
    method: str | None = None,
    *,
    column: str = "path",
    actors: int = 2,
    cpus_per_actor: float = 1.0,
    seed: int | None = None,
    reference: Any = None,
    decoder: str | None = None,
    index: Any = None,
    options: dict[str, Any] | None = None,
) -> Any:
    """Colorize the images of a Ray Dataset (lazily), returning a Ray Dataset.

    Parameters
    ----------
    dataset : ray.data.Dataset or sequence of path
        Rows with the images in ``column``: file paths (str), or arrays of the forms
        :func:`core.colorize` takes (e.g. ``ray.data.read_images(...)``'s ``image``
        column). A list of paths becomes a Dataset with a ``path`` column.
    method : str, optional
        Method name; ``None``: the default method.
    column : str
        The column holding the images.
    actors, cpus_per_actor
        As in :func:`colorize_files`.
    seed, reference, decoder, index, options
        Passed to :func:`core.colorize_result` for every row.

    Returns
    -------
    ray.data.Dataset
        The input columns plus ``colorized`` (uint8 (H, W, 3) RGB at the input's size;
        (0, 0, 3) for a failed row) and ``error`` ("" or the message, which names the
        file). Nothing runs until the Dataset is consumed (``take_all``, ``write_*``,
        ``iter_rows``), on the cluster Ray is initialised with (Ray Data calls
        ``ray.init()`` itself if nobody has).

    Raises
    ------
    core.errors.ColorizeError
        Ray is not installed.
    core.errors.OutputPathError
        An output would be an input file, or ``output`` is an input folder
        (:func:`core.batch.check_outputs`).
    ValueError
        ``actors``, ``cpus_per_actor`` or ``samples`` out of range.
    """
    ray = _import_ray()
    actors = _check_actors(actors)
    threads = _threads(cpus_per_actor)
    if not isinstance(dataset, ray.data.Dataset):
        if isinstance(dataset, (str, os.PathLike)):
            dataset = [dataset]
        paths = [os.fspath(p) for p in dataset]
        dataset = ray.data.from_items(
            [{column: p} for p in paths], override_num_blocks=_blocks(max(1, len(paths)), actors)
        )
    kwargs = {"seed": seed, "reference": reference, "decoder": decoder, "index": index}
    kwargs.update(options or {})
    return dataset.map_batches(
        _ArrayActor,
        fn_constructor_args=(method, column, threads, kwargs),
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m colorize_ray.distributed IN... -o OUT [options]``: :func:`colorize_files` from a
    shell (the multi-node recipe of docs/scaling.md); returns the exit code."""
    from core.cli import parse_options

    parser = argparse.ArgumentParser(
        prog="python -m colorize_ray.distributed",
        description="Colorize image files and folders on a Ray cluster (colorize image's rules).",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    parser.add_argument("--method", "-m", default=None)
    parser.add_argument("--actors", type=int, default=2, metavar="N", help="actors (default 2)")
    parser.add_argument(
        "--cpus-per-actor", type=float, default=1.0, metavar="C", help="CPUs per actor (1)"
    )
    parser.add_argument(
        "--address", default=None, help="Ray cluster to join, e.g. 'auto' or HEAD:6379"
    )
    parser.add_argument("--samples", type=int, default=1, metavar="N")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--reference", "-r", default=None, metavar="R")
    parser.add_argument("--index", default=None, metavar="FILE")
    parser.add_argument("--decoder", default=None, metavar="D")
    parser.add_argument("--option", "-O", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)
    try:
        summary = colorize_files(
            args.inputs,
            args.output,
            args.method,
            actors=args.actors,
            cpus_per_actor=args.cpus_per_actor,
            samples=args.samples,
            seed=args.seed,
            reference=args.reference,
            decoder=args.decoder,
            index=args.index,
            options=parse_options(args.option),
            overwrite=args.overwrite,
            address=args.address,
            progress=not args.quiet,
        )
    except (ColorizeError, ValueError) as exc:
        print(f"colorize_ray.distributed: {exc}", file=sys.stderr)
        return 2
    summary.report()
    return summary.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
