"""``colorize bench``: the performance suite, one run, one report.

Three sections, each measured in the same run on the same machine:

``methods``
    For each method and input size (256², 512², 2048²; ``--quick``: 256², 512²;
    ``--sizes`` to choose, e.g. ``4000x3000``): the median wall time of
    ``core.colorize_result`` over a few runs (after one warm-up run), split into the
    method's own prediction and the core's work (loading, resizing, recombination), and
    the peak resident memory of a fresh process doing one colorization, minus that
    process's resident memory before it (so the interpreter, libraries and loaded
    models are not counted; the kernel's high-water mark is reset just before the call
    through ``/proc/self/clear_refs``). Methods that need a reference get a
    ground-truth-like one: a colour image whose lightness is the input.
``core``
    Throughput of the colour-space conversions and decoders, with the same-run
    comparisons against scikit-image (when installed) and straightforward numpy.
``plugins``
    Every benchmark plugins register (hook ``register_benchmarks``) is
    called with ``quick`` and returns named comparisons (ONNX Runtime vs torch eager,
    cached vs naive sampling, int8 vs float32 where an int8 graph is shipped), each
    measured within the plugin's own run and reported as a ratio. A benchmark that
    raises is reported with its error; the others still run.

Every comparison has the same shape (:func:`comparison`): ``a`` is the candidate
(what the toolkit ships), ``b`` the baseline, and ``ratio`` is how many times better
``a`` is than ``b`` (``b / a`` for times and memory, ``a / b`` for rates), so a ratio
above 1 always means the candidate wins. The JSON schema is documented in
``docs/cli.md``; :data:`SCHEMA_VERSION` changes when a key is renamed or removed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "best_run",
    "best_seconds",
    "colour_benchmarks",
    "comparison",
    "comparisons_table",
    "configure_parser",
    "int8_comparisons",
    "machine_description",
    "parse_sizes",
    "run",
    "run_benchmarks",
    "run_plugin_benchmarks",
    "run_suite",
    "skipped",
    "table",
    "zero_feeds",
]

#: Version of the ``colorize bench --json`` layout (bumped when a key is renamed or removed).
SCHEMA_VERSION = 2
#: Entry-point group of plugin benchmarks: ``name = "package.module:callable"``.

_MEMORY_PROBE = r"""
import json, sys
import numpy as np
import core

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

method, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
needs_reference = sys.argv[4] == "1"
rng = np.random.default_rng(0)
rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
gray = (rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
small = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
warm = {"reference": small} if needs_reference else {}
run = {"reference": rgb} if needs_reference else {}
core.colorize(small[..., 0], method, seed=0, **warm)   # load sessions first
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as handle:   # reset the high-water mark (Linux)
    handle.write("5")
core.colorize(gray, method, seed=0, **run)
print(json.dumps({"before_kib": before, "after_kib": status("VmHWM:")}))
"""

# Units where a smaller number is better; everything else (MP/s, samples/s) is a rate.
_LOWER_IS_BETTER = {"s", "ms", "us", "MiB", "MB", "GiB", "bytes"}


def machine_description() -> dict[str, Any]:
    """CPU, core count, load and library versions, recorded with every benchmark."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("numpy", "onnxruntime", "opencv-python-headless", "pillow", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": os.environ.get("COLORIZE_THREADS", "default"),
        "load_average": load,
        "versions": versions,
    }


# -- building blocks for benchmarks (core's and plugins') -------------------------------


def best_run(func: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Fastest of ``repeats`` runs of ``func`` (no warm-up) and the last run's result.

    For one candidate, or candidates too slow to interleave; see :func:`best_seconds`.
    """
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def best_seconds(funcs: Mapping[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` runs of each function, run in turn (round robin).

    Each function runs once first as a warm-up. Interleaving exposes every candidate
    to the same machine load, and the minimum is the least disturbed run (as
    ``timeit`` recommends), so ratios stay comparable on a busy machine.
    """
    for func in funcs.values():
        func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(max(1, repeats)):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def comparison(
    a_label: str,
    a_value: float,
    b_label: str,
    b_value: float,
    unit: str,
    *,
    note: str | None = None,
) -> dict[str, Any]:
    """One named comparison of a candidate ``a`` with a baseline ``b``, measured in one run.

    Parameters
    ----------
    a_label, a_value : str, float
        The candidate (what the toolkit ships, e.g. ``"cached"``, ``"onnxruntime"``).
    b_label, b_value : str, float
        The baseline (e.g. ``"naive"``, ``"torch eager"``).
    unit : str
        ``"s"``, ``"ms"``, ``"MiB"`` ... (lower is better) or a rate such as
        ``"MP/s"`` (higher is better).
    note : str, optional
        What was measured (sizes, repeats, whether outputs agreed).

    Returns
    -------
    dict
        ``{"a": {"label", "value"}, "b": {"label", "value"}, "unit",
        "lower_is_better", "ratio", "note"}``; ``ratio`` > 1 means ``a`` is better
        (``b / a`` for lower-is-better units, ``a / b`` for rates); NaN if undefined.

    Examples
    --------
    >>> comparison("cached", 0.5, "naive", 10.0, "s")["ratio"]
    20.0
    """
    lower = unit in _LOWER_IS_BETTER
    a_value, b_value = float(a_value), float(b_value)
    numerator, denominator = (b_value, a_value) if lower else (a_value, b_value)
    ratio = numerator / denominator if denominator > 0 else math.nan
    return {
        "a": {"label": a_label, "value": a_value},
        "b": {"label": b_label, "value": b_value},
        "unit": unit,
        "lower_is_better": lower,
        "ratio": ratio,
        "note": note,
    }


def skipped(name: str, reason: str) -> dict[str, str]:
    """A comparison that was not run, and why (e.g. torch is not installed)."""
    return {"name": name, "reason": reason}


def zero_feeds(session: Any) -> dict[str, np.ndarray]:
    """All-zero float32 inputs for every input of an ``InferenceSession``, each named
    dimension (batch, height ...) set to 1: the smallest feed a graph accepts, for
    latency comparisons where the values do not matter (e.g. :func:`int8_comparisons`)."""
    return {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        for i in session.get_inputs()
    }


def int8_comparisons(
    models_dir: str | os.PathLike,
    feeds: Callable[[Any], dict[str, np.ndarray]],
    repeats: int,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """int8 vs float32 latency for every ``X.int8.onnx`` / ``X-int8.onnx`` next to ``X.onnx``.

    Parameters
    ----------
    models_dir : path-like
        A plugin's ``models/`` folder.
    feeds : callable
        Given the float32 graph's ``InferenceSession``, returns its input arrays.
    repeats : int
        Timed runs of each graph (best of).

    Returns
    -------
    (comparisons, skipped)
        One comparison per pair (``a`` = int8, ``b`` = float32, in ms), or no
        comparison and one :func:`skipped` entry when no int8 graph is shipped.
    """
    from core.runtime import get_session

    folder = Path(models_dir)
    pairs = []
    for quantized in sorted(folder.glob("*int8*.onnx")):
        stem = quantized.name.replace(".int8", "").replace("-int8", "").replace("_int8", "")
        if (folder / stem).is_file():
            pairs.append((folder / stem, quantized))
    if not pairs:
        reason = f"no int8 graph is shipped in {folder.parent.name}/models (float32 only)"
        return {}, [skipped("int8 vs float32", reason)]
    out = {}
    for fp32, int8 in pairs:
        full, small = get_session(fp32), get_session(int8)
        inputs = feeds(full)
        seconds = best_seconds(
            {
                "fp32": lambda s=full, x=inputs: s.run(None, x),
                "int8": lambda s=small, x=inputs: s.run(None, x),
            },
            repeats,
        )
        out[f"int8 vs float32: {fp32.name}"] = comparison(
            "int8", 1e3 * seconds["int8"], "float32", 1e3 * seconds["fp32"], "ms"
        )
    return out, []


def parse_sizes(text: str | Sequence[str]) -> list[tuple[int, int]]:
    """``"256,512,4000x3000"`` -> ``[(256, 256), (512, 512), (4000, 3000)]`` (width x height).

    Raises
    ------
    ValueError
        If an entry is not ``N`` or ``WxH`` with positive integers.
    """
    items = [text] if isinstance(text, str) else list(text)
    out = []
    for item in ",".join(items).replace(" ", ",").split(","):
        if not item:
            continue
        parts = item.lower().split("x")
        if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"expected sizes like 512 or 4000x3000, got {item!r}")
        width = int(parts[0])
        out.append((width, int(parts[-1])))
    if not out:
        raise ValueError("no sizes given")
    return out


def _size_label(width: int, height: int) -> str:
    return f"{width}x{height}"


# -- methods section --------------------------------------------------------------------


def _peak_memory_mib(method: str, width: int, height: int, needs_reference: bool) -> float:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEMORY_PROBE,
            method,
            str(width),
            str(height),
            "1" if needs_reference else "0",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return max(0, data["after_kib"] - data["before_kib"]) / 1024.0


def _inputs(width: int, height: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A gray input and a colour image whose lightness it is (the reference, if needed)."""
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    gray = (rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    return gray, rgb


def run_benchmarks(
    methods: list[str] | None = None,
    sizes: Sequence[int | tuple[int, int]] = (256, 512, 2048),
    repeats: int = 3,
    memory: bool = True,
) -> dict[str, Any]:
    """Latency and peak memory of every method at every size (the ``methods`` section).

    Parameters
    ----------
    methods : list of str, optional
        Default: every installed method (reference methods get a ground-truth-like
        reference: a colour image whose lightness is the input).
    sizes : sequence of int or (width, height)
        Square sides or ``(width, height)`` pairs.
    repeats : int
        Timed runs per size up to 512² (median); one run above.
    memory : bool
        Also measure peak memory in a fresh process per method and size.

    Returns
    -------
    dict
        ``{"machine": ..., "rows": [...], "failures": [...]}``; each row has
        ``method, size, width, height, seconds, predict_seconds, core_share,
        megapixels_per_s, peak_mib, peak_mib_error, ratio_vs_512`` (``None`` where not
        measured); a method or size that raised is a failure ``{"method", "size",
        "error"}`` and the suite goes on.
    """
    import core

    names = methods or [m.name for m in core.methods()]
    pairs = [(s, s) if isinstance(s, int) else (int(s[0]), int(s[1])) for s in sizes]
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for name in names:
        try:
            needs_reference = not core.get_method(name).capabilities.automatic
            small_gray, small_rgb = _inputs(32, 32, rng)
            warm = {"reference": small_rgb} if needs_reference else {}
            core.colorize(small_gray, name, seed=0, **warm)  # warm-up: load sessions
        except Exception as exc:  # one failing method must not stop the suite
            failures.append({"method": name, "size": None, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for width, height in pairs:
            try:
                rows.append(_method_row(name, width, height, needs_reference, rng, repeats))
            except Exception as exc:
                failures.append(
                    {
                        "method": name,
                        "size": _size_label(width, height),
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
                continue
            if memory:
                try:
                    rows[-1]["peak_mib"] = _peak_memory_mib(name, width, height, needs_reference)
                except Exception as exc:  # report, don't stop the suite
                    rows[-1]["peak_mib_error"] = str(exc)
    base = {r["method"]: r["seconds"] for r in rows if (r["width"], r["height"]) == (512, 512)}
    for row in rows:
        if row["method"] in base and (row["width"], row["height"]) != (512, 512):
            row["ratio_vs_512"] = row["seconds"] / base[row["method"]]
    return {"machine": machine_description(), "rows": rows, "failures": failures}


def _method_row(
    name: str,
    width: int,
    height: int,
    needs_reference: bool,
    rng: np.random.Generator,
    repeats: int,
) -> dict[str, Any]:
    import core

    gray, rgb = _inputs(width, height, rng)
    kwargs = {"reference": rgb} if needs_reference else {}
    totals, predicts = [], []
    for _ in range(repeats if width * height <= 512 * 512 else 1):
        t0 = time.perf_counter()
        result = core.colorize_result(gray, name, seed=0, **kwargs)
        totals.append(time.perf_counter() - t0)
        predicts.append(result.timings["predict"])
    total = statistics.median(totals)
    predict = statistics.median(predicts)
    return {
        "method": name,
        "size": _size_label(width, height),
        "width": width,
        "height": height,
        "seconds": total,
        "predict_seconds": predict,
        "core_share": (total - predict) / total if total > 0 else math.nan,
        "megapixels_per_s": width * height / 1e6 / total,
        "peak_mib": None,
        "peak_mib_error": None,
        "ratio_vs_512": None,
    }


# -- core section: colour conversions and decoders --------------------------------------


def colour_benchmarks(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    """Throughput of the colour conversions and decoders, with same-run comparisons.

    Conversions run on a 1024² float32 image (``quick``: 128²), decoders on a 512²
    distribution with K = 32 bins (``quick``: 64²); best of ``repeats`` (7; quick 2)
    interleaved runs. ``benchmarks/bench_colour.py`` has the longer version (OpenCV,
    accuracy, energy minimisation).

    Returns
    -------
    dict
        ``{"conversions": [{"name", "megapixels", "mp_s"}], "decoders": [...],
        "comparisons": {name: comparison}, "skipped": [...]}``.
    """
    from core import decoders
    from core.binning import HUE_BINS, LAB_AB_BINS
    from core.colorspaces import (
        alphabeta_to_rgb,
        huechroma_to_rgb,
        lab_to_rgb,
        rgb_to_alphabeta,
        rgb_to_huechroma,
        rgb_to_lab,
        rgb_to_ycbcr,
        ycbcr_to_rgb,
    )
    from core.distributions import Distribution

    repeats = repeats or (2 if quick else 7)
    side, dside = (128, 64) if quick else (1024, 512)
    rng = np.random.default_rng(0)
    rgb = rng.random((side, side, 3), dtype=np.float32)
    lab, lhc = rgb_to_lab(rgb), rgb_to_huechroma(rgb)
    alphabeta, ycc = rgb_to_alphabeta(rgb), rgb_to_ycbcr(rgb)
    mp = side * side / 1e6
    conversions = {
        "rgb -> lab": lambda: rgb_to_lab(rgb),
        "lab -> rgb": lambda: lab_to_rgb(lab),
        "rgb -> huechroma": lambda: rgb_to_huechroma(rgb),
        "huechroma -> rgb": lambda: huechroma_to_rgb(lhc),
        "rgb -> alphabeta": lambda: rgb_to_alphabeta(rgb),
        "alphabeta -> rgb": lambda: alphabeta_to_rgb(alphabeta),
        "rgb -> ycbcr": lambda: rgb_to_ycbcr(rgb),
        "ycbcr -> rgb": lambda: ycbcr_to_rgb(ycc),
    }
    comparisons: dict[str, Any] = {}
    skipped_list: list[dict[str, str]] = []
    try:
        from skimage import color
    except ImportError:
        color = None
        skipped_list.append(skipped("conversions vs scikit-image", "scikit-image not installed"))
    theirs = {}
    if color is not None:
        theirs = {
            "rgb -> lab": lambda: color.rgb2lab(rgb),
            "lab -> rgb": lambda: color.lab2rgb(lab),
        }
    seconds = best_seconds(
        {**conversions, **{f"skimage {k}": f for k, f in theirs.items()}}, repeats
    )
    conversion_rows = [
        {"name": name, "megapixels": mp, "mp_s": mp / seconds[name]} for name in conversions
    ]
    for name in theirs:
        comparisons[f"{name}: ours vs scikit-image"] = comparison(
            "core",
            mp / seconds[name],
            "scikit-image",
            mp / seconds[f"skimage {name}"],
            "MP/s",
            note=f"{side}x{side} float32, best of {repeats}",
        )

    # The App. A.4 lightness correction needs the gray of a given lightness twice per
    # pixel: the closed form (LabSpace.gray_of_lightness) vs the generic definition
    # (ColorSpace's, a full Lab -> RGB conversion of zero chroma).
    from core.colorspaces.base import ColorSpace
    from core.colorspaces.lab import LabSpace

    space, light = LabSpace(), lab[..., 0]
    grays = best_seconds(
        {
            "closed": lambda: space.gray_of_lightness(light),
            "generic": lambda: ColorSpace.gray_of_lightness(space, light),
        },
        repeats,
    )
    comparisons["lab gray of lightness (App. A.4 correction): closed form vs generic"] = comparison(
        "closed form",
        mp / grays["closed"],
        "Lab -> RGB of zero chroma",
        mp / grays["generic"],
        "MP/s",
        note=f"{side}x{side} float32, best of {repeats}",
    )

    dmp = dside * dside / 1e6
    logits = rng.normal(0, 2, (dside, dside, LAB_AB_BINS.k)).astype(np.float32)
    dist = Distribution.from_logits(logits, LAB_AB_BINS, "lab", "a")
    hue = Distribution.from_logits(logits, HUE_BINS, "huechroma", "hue")
    ones = np.ones(hue.shape, np.float32)
    ours = {
        "sample": lambda: decoders.sample(dist, seed=0),
        "mode": lambda: decoders.mode(dist),
        "median": lambda: decoders.median(dist),
        "expectation": lambda: decoders.expectation(dist),
        "annealed-mean": lambda: decoders.annealed_mean(dist),
        "expectation (circular hue)": lambda: decoders.expectation(hue),
        "chromatic fading": lambda: decoders.chromatic_fading(hue, ones),
    }
    probs, centers, edges = dist.flat_probs(), LAB_AB_BINS.centers, LAB_AB_BINS.edges
    last = LAB_AB_BINS.k - 1

    def naive_median():
        cdf = np.cumsum(probs, axis=1)
        index = np.minimum((cdf < 0.5 * cdf[:, -1:]).sum(axis=1), last)
        rows = np.arange(len(probs))
        mass = probs[rows, index]
        fraction = np.clip((0.5 * cdf[:, -1] - cdf[rows, index] + mass) / mass, 0, 1)
        return edges[index] + fraction * np.diff(edges)[index]

    def naive_sample():
        cdf = np.cumsum(probs, axis=1)
        u = np.random.default_rng(0).random(len(probs))[:, None] * cdf[:, -1:]
        return centers[np.minimum((cdf <= u).sum(axis=1), last)]

    naive = {
        "sample": naive_sample,
        "median": naive_median,
        "expectation": lambda: (probs @ centers) / probs.sum(axis=1),
    }
    seconds = best_seconds({**ours, **{f"naive {k}": f for k, f in naive.items()}}, repeats)
    decoder_rows = [{"name": name, "megapixels": dmp, "mp_s": dmp / seconds[name]} for name in ours]
    for name in naive:
        comparisons[f"decoder {name}: ours vs naive numpy"] = comparison(
            "core",
            dmp / seconds[name],
            "naive numpy",
            dmp / seconds[f"naive {name}"],
            "MP/s",
            note=f"{dside}x{dside} pixels, K={LAB_AB_BINS.k}, best of {repeats}",
        )
    return {
        "conversions": conversion_rows,
        "decoders": decoder_rows,
        "comparisons": comparisons,
        "skipped": skipped_list,
    }


# -- plugins section ----------------------------------------------------------------------


def _registered_benchmarks() -> dict[str, Any]:
    """The :class:`core.extensions.Benchmark` entries of installed plugins, by name (the
    registry applies ``COLORIZE_PLUGINS`` / ``COLORIZE_DISABLE_PLUGINS``)."""
    from core.plugins import get_registry

    return dict(sorted(get_registry().entries("benchmark").items()))


def _normalise(result: Any) -> dict[str, Any]:
    """Check a plugin benchmark's return value; raises TypeError with what is wrong."""
    if not isinstance(result, Mapping):
        raise TypeError(f"expected a dict with 'comparisons', got {type(result).__name__}")
    comparisons = result.get("comparisons", {})
    if not isinstance(comparisons, Mapping):
        raise TypeError("'comparisons' must map names to comparison(...) dicts")
    for name, entry in comparisons.items():
        if not isinstance(entry, Mapping) or not {"a", "b", "unit", "ratio"} <= set(entry):
            raise TypeError(f"comparison {name!r} lacks a, b, unit or ratio (use comparison())")
    skipped_list = list(result.get("skipped", []))
    for entry in skipped_list:
        if not isinstance(entry, Mapping) or set(entry) != {"name", "reason"}:
            raise TypeError("'skipped' entries must be skipped(name, reason) dicts")
    return {
        "comparisons": dict(comparisons),
        "skipped": skipped_list,
        "notes": [str(n) for n in result.get("notes", [])],
    }


def run_plugin_benchmarks(
    quick: bool = False,
    benchmarks: Mapping[str, Callable[[bool], Mapping[str, Any]]] | None = None,
    *,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run every registered benchmark (hook ``register_benchmarks``), or the given callables.

    Each callable is called as ``func(quick)`` and returns ``{"comparisons": {name:
    comparison(...)}, "skipped": [skipped(...)], "notes": [str]}`` (the last two
    optional). A callable that fails to load or raises, or returns something else, is
    reported with ``status = "error"`` and its error; the others still run.

    Returns
    -------
    dict
        Benchmark name -> ``{"distribution", "version", "status", "seconds",
        "comparisons", "skipped", "notes", "error"}``; ``status`` is ``"ok"``,
        ``"skipped"`` (it ran no comparison and said why) or ``"error"``.
    """
    if benchmarks is None:
        sources = {}
        for name, entry in _registered_benchmarks().items():
            sources[name] = (entry.obj.load, entry.distribution, entry.version)
    else:
        sources = {name: ((lambda f=func: f), None, None) for name, func in benchmarks.items()}
    out: dict[str, dict[str, Any]] = {}
    for name, (load, dist, version) in sources.items():
        entry: dict[str, Any] = {
            "distribution": dist,
            "version": version,
            "status": "ok",
            "seconds": None,
            "comparisons": {},
            "skipped": [],
            "notes": [],
            "error": None,
        }
        if progress:
            print(f"bench: plugin benchmark {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            entry.update(_normalise(load()(quick)))
            if not entry["comparisons"] and entry["skipped"]:
                entry["status"] = "skipped"
        except Exception as exc:  # a plugin's failure is reported, never fatal
            entry["status"] = "error"
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["seconds"] = time.perf_counter() - start
        out[name] = entry
    return out


# -- the whole suite ----------------------------------------------------------------------


def run_suite(
    methods: list[str] | None = None,
    sizes: Sequence[int | tuple[int, int]] = (256, 512, 2048),
    *,
    quick: bool = False,
    repeats: int = 3,
    memory: bool = True,
    core_section: bool = True,
    plugins: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Everything ``colorize bench`` measures, as one JSON-serialisable report.

    Top-level keys (schema :data:`SCHEMA_VERSION`): ``schema``, ``machine``,
    ``settings``, ``methods`` (rows of :func:`run_benchmarks`), ``failures`` (methods
    or sizes that raised), ``core``
    (:func:`colour_benchmarks`, or ``None`` if skipped) and ``plugins``
    (:func:`run_plugin_benchmarks`, empty if skipped). Non-finite floats are
    written as ``"inf"`` / ``null`` (:func:`core.metrics.json_safe`).
    """
    from core.metrics import json_safe

    if progress:
        print("bench: methods ...", file=sys.stderr, flush=True)
    methods_part = run_benchmarks(methods, sizes, repeats=repeats, memory=memory)
    if progress and core_section:
        print("bench: colour conversions and decoders ...", file=sys.stderr, flush=True)
    core_part = colour_benchmarks(quick) if core_section else None
    plugin_part = run_plugin_benchmarks(quick, progress=progress) if plugins else {}
    pairs = [(s, s) if isinstance(s, int) else (int(s[0]), int(s[1])) for s in sizes]
    return json_safe(
        {
            "schema": SCHEMA_VERSION,
            "machine": methods_part["machine"],
            "settings": {
                "quick": quick,
                "sizes": [_size_label(w, h) for w, h in pairs],
                "repeats": repeats,
                "memory": memory,
                "methods": methods,
            },
            "methods": methods_part["rows"],
            "failures": methods_part["failures"],
            "core": core_part,
            "plugins": plugin_part,
        }
    )


# -- output -------------------------------------------------------------------------------


def _size_cell(row: Mapping[str, Any]) -> str:
    width, height = row.get("width"), row.get("height")
    if width is None:  # a report from before schema 2
        return f"{row['size']}²"
    return f"{width}²" if width == height else f"{width}x{height}"


def _num(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, spec)


def table(report: Mapping[str, Any]) -> str:
    """Markdown table of the per-method rows (``report["methods"]`` or ``["rows"]``)."""
    rows = report.get("methods", report.get("rows", []))
    lines = [
        "| method | size | latency (ms) | model (ms) | core share | MP/s | peak MiB | ×512² |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {_size_cell(r)} | {r['seconds'] * 1e3:.1f} | "
            f"{r['predict_seconds'] * 1e3:.1f} | {_num(r['core_share'], '.0%')} | "
            f"{r['megapixels_per_s']:.2f} | {_num(r.get('peak_mib'), '.0f')} | "
            f"{_num(r.get('ratio_vs_512'), '.1f')} |"
        )
    return "\n".join(lines)


def _value(side: Mapping[str, Any], unit: str) -> str:
    value = side["value"]
    return f"{side['label']} {value:.4g} {unit}" if isinstance(value, (int, float)) else "–"


def comparisons_table(report: Mapping[str, Any]) -> str:
    """Markdown table of every comparison of the ``core`` and ``plugins`` sections."""
    lines = [
        "| section | comparison | a (candidate) | b (baseline) | ratio (>1: a better) |",
        "| --- | --- | --- | --- | ---: |",
    ]
    notes = []
    sections = []
    if report.get("core"):
        sections.append(("core", report["core"]))
    sections += [(f"plugin {name}", part) for name, part in report.get("plugins", {}).items()]
    for section, part in sections:
        for name, c in part.get("comparisons", {}).items():
            lines.append(
                f"| {section} | {name} | {_value(c['a'], c['unit'])} | "
                f"{_value(c['b'], c['unit'])} | {_num(c['ratio'], '.2f')}× |"
            )
        for s in part.get("skipped", []):
            notes.append(f"- {section}: {s['name']} not measured: {s['reason']}")
        if part.get("error"):
            notes.append(f"- {section}: FAILED: {part['error']}")
    return "\n".join(lines + ([""] + notes if notes else []))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize bench``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 256² and 512², tiny sizes and repeats for the core and plugin comparisons",
    )
    parser.add_argument("--method", "-m", action="append", dest="methods", default=None)
    parser.add_argument(
        "--sizes",
        default=None,
        metavar="LIST",
        help="input sizes for the methods, e.g. 256,512 or 4000x3000 (width x height)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument(
        "--no-core", action="store_true", help="skip the colour conversion / decoder section"
    )
    parser.add_argument(
        "--no-plugins", action="store_true", help="skip the benchmarks plugins register"
    )
    parser.add_argument("--json", default=None, metavar="FILE", help="write the full report")


def run(args: argparse.Namespace) -> int:
    """Run ``colorize bench``; prints the machine and Markdown tables, writes ``--json``.

    Returns 1 if a method or a plugin benchmark failed (each is reported and the rest of
    the suite still runs), else 0.
    """
    if args.sizes:
        try:
            sizes: Sequence[Any] = parse_sizes(args.sizes)
        except ValueError as exc:
            print(f"colorize bench: --sizes: {exc}", file=sys.stderr)
            return 2
    else:
        sizes = (256, 512) if args.quick else (256, 512, 2048)
    report = run_suite(
        args.methods,
        sizes,
        quick=args.quick,
        memory=not args.no_memory,
        core_section=not args.no_core,
        plugins=not args.no_plugins,
        progress=True,
    )
    machine = report["machine"]
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, python {machine['python']}, "
        f"threads {machine['threads']}, load average {machine['load_average']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    print(table(report))
    for failure in report["failures"]:
        where = f" at {failure['size']}" if failure["size"] else ""
        print(f"FAILED {failure['method']}{where}: {failure['error']}", file=sys.stderr)
    if report["core"]:
        print()
        print("| conversion / decoder | MP/s |")
        print("| --- | ---: |")
        for row in report["core"]["conversions"] + report["core"]["decoders"]:
            print(f"| {row['name']} | {row['mp_s']:.1f} |")
    if report["core"] or report["plugins"]:
        print()
        print(comparisons_table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, allow_nan=False))
    failed = [name for name, part in report["plugins"].items() if part["status"] == "error"]
    return 1 if failed or report["failures"] else 0
