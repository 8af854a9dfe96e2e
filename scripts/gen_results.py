"""Regenerate docs/results.md from `colorize eval` and `colorize bench`.

Usage: python scripts/gen_results.py [--limit N] [--quick] [--plots-only]

`make results` runs it with the defaults: all of bsds500/images/test, full bench. The
measurements are kept in docs/results.json (aggregates and bench rows), from which the
quality-vs-speed plot docs/figures/results-quality-speed.png is drawn; `--plots-only`
redraws the plot from that file (and embeds it in docs/results.md if it is not there yet)
without measuring anything.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_MD = ROOT / "docs" / "results.md"
RESULTS_JSON = ROOT / "docs" / "results.json"
PLOT = ROOT / "docs" / "figures" / "results-quality-speed.png"
#: Every automatic method side by side, drawn by `make figures` (scripts/gen_figures.py).
GRID = ROOT / "docs" / "figures" / "comparison.jpg"
#: Rows of the eval report that are baselines, not methods.
BASELINES = ("gray", "mean-tint", "true-28px")
#: Latency of this size (pixels per side) is the x axis of the plot.
PLOT_SIZE = 512


def plot_section(plot: Path = PLOT, md: Path = RESULTS_MD) -> list[str]:
    """Markdown lines that embed the quality-vs-speed plot (path relative to ``md``)."""
    rel = os.path.relpath(plot, md.parent).replace(os.sep, "/")
    lines = [
        "## Quality vs speed",
        "",
        f"![Quality vs {PLOT_SIZE}² latency per method]({rel})",
        "",
        f"*One point per method: RMSE-αβ (left, lower is better) and PSNR (right, higher is "
        f"better) against the median latency of `colorize_result` on a {PLOT_SIZE}² image "
        "(table below). Lines: the baselines, which cost nothing. The data are in "
        "[results.json](results.json); `scripts/gen_results.py --plots-only` redraws the "
        "plot from it.*",
        "",
    ]
    if GRID.is_file():
        grid = os.path.relpath(GRID, md.parent).replace(os.sep, "/")
        lines += [
            "## Sample grid",
            "",
            f"![Every automatic method on three BSDS500 test photos]({grid})",
            "",
            "*Every automatic method on the same three BSDS500 test photos (Berkeley: "
            "non-commercial research and educational use only; diverse methods: seed 0), "
            "drawn by `make figures`. Each method's page has its own larger sample sheet.*",
            "",
        ]
    return lines


def _side(row: dict[str, Any]) -> int | None:
    """The side of a square benchmark row (``size`` 512, "512x512" or "512²", or
    ``width`` = ``height``); None for a non-square one."""
    if row.get("width") is not None and row.get("height") is not None:
        return int(row["width"]) if row["width"] == row["height"] else None
    size = row.get("size")
    if isinstance(size, (int, float)):
        return int(size)
    parts = str(size).rstrip("²").split("x")
    return int(parts[0]) if len(set(parts)) == 1 and parts[0].isdigit() else None


def latencies_ms(bench: dict[str, Any], side: int) -> dict[str, float]:
    """{method: latency in ms} at ``side``² from a ``core.bench.run_benchmarks`` report
    (rows under ``"methods"`` or ``"rows"``)."""
    rows = bench.get("methods", bench.get("rows", []))
    return {r["method"]: r["seconds"] * 1e3 for r in rows if _side(r) == side}


def plot_quality_speed(data: dict[str, Any], out: Path | None = None) -> Path:
    """Scatter RMSE-αβ and PSNR against latency at ``PLOT_SIZE``², baselines as lines (PNG).

    ``data`` is the content of docs/results.json: ``eval.aggregate`` (row -> metric means)
    and ``bench.rows`` (one row per method and size). ``out`` defaults to :data:`PLOT`.
    """
    out = PLOT if out is None else out
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    aggregate = data["eval"]["aggregate"]
    latency = latencies_ms(data["bench"], PLOT_SIZE)
    methods = [m for m in aggregate if m not in BASELINES and m in latency]
    if not methods:
        raise ValueError(f"no method has both quality scores and a {PLOT_SIZE}² latency")
    panels = (("rmse_ab", "RMSE-αβ (lower is better)"), ("psnr", "PSNR dB (higher is better)"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = dict(zip(BASELINES, ("--", ":", "-."), strict=True))
    for ax, (metric, label) in zip(axes, panels, strict=True):
        xs = [latency[m] for m in methods]
        ys = [aggregate[m][metric] for m in methods]
        ax.scatter(xs, ys, s=28, color="tab:blue", zorder=3)
        for m, x, y in zip(methods, xs, ys, strict=True):
            ax.annotate(m, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
        shown = [aggregate[b][metric] for b in BASELINES if b in aggregate and b != "true-28px"]
        low, high = min(ys + shown), max(ys + shown)
        pad = 0.08 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)
        for baseline in BASELINES:
            if baseline not in aggregate:
                continue
            value = aggregate[baseline][metric]
            inside = low - pad <= value <= high + pad
            ax.axhline(
                value if inside else (high + pad if value > high else low - pad),
                color="0.4",
                ls=styles[baseline],
                lw=1.2 if inside else 0.0,
                label=f"{baseline}: {value:.3f}" + ("" if inside else " (off the axis)"),
            )
        ax.set_xscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.set_xlabel(f"latency at {PLOT_SIZE}² (ms, log scale)", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    images = int(max(a.get("images", 0) for a in aggregate.values()))
    fig.suptitle(f"BSDS500 test ({images} images): quality vs speed", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return out


def _table(text: str, header: str) -> list[dict[str, str]]:
    """Rows of the Markdown table whose header line starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    names = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(names, (c.strip() for c in line.strip("|").split("|")), strict=True)))
    return rows


def data_from_markdown(md: Path = RESULTS_MD) -> dict[str, Any]:
    """Rebuild the results.json content from the tables of an older results.md (fallback
    for results generated before the JSON was kept; prefer a fresh ``make results``)."""
    text = md.read_text(encoding="utf-8")
    aggregate = {}
    for row in _table(text, "| row |"):
        aggregate[row["row"]] = {
            k: float(v) if v != "–" else float("nan") for k, v in row.items() if k != "row"
        }
    rows = []
    for row in _table(text, "| method | size |"):
        rows.append(
            {
                "method": row["method"],
                "size": row["size"],
                "seconds": float(row["latency (ms)"]) / 1e3,
                "predict_seconds": float(row["model (ms)"]) / 1e3,
            }
        )
    date = re.search(r"on (\d{4}-\d{2}-\d{2})", text)
    return {
        "date": date.group(1) if date else None,
        "source": f"parsed from {md.name} (tables rounded to 4 digits / 0.1 ms)",
        "eval": {"aggregate": aggregate},
        "bench": {"rows": rows},
    }


def embed_plot(md: Path = RESULTS_MD, plot: Path = PLOT) -> bool:
    """Put the current plot section (:func:`plot_section`) before "## Speed" in ``md``,
    replacing an older one; True if the file changed."""
    text = md.read_text(encoding="utf-8")
    marker = "## Speed"
    if marker not in text:
        raise ValueError(f"{md}: no '{marker}' section to put the plot before")
    head, tail = text.split(marker, 1)
    if "## Quality vs speed" in head:
        head = head[: head.index("## Quality vs speed")]
    new = head + "\n".join(plot_section(plot, md)) + "\n" + marker + tail
    if new == text:
        return False
    md.write_text(new, encoding="utf-8")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument(
        "--plots-only",
        action="store_true",
        help="redraw the plot from docs/results.json (from the results.md tables if it "
        "does not exist yet) without measuring",
    )
    args = parser.parse_args()
    out = Path(args.out)
    if args.plots_only:
        if RESULTS_JSON.is_file():
            data = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
        else:
            data = data_from_markdown(out)
            RESULTS_JSON.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {RESULTS_JSON} from the tables of {out}")
        print(f"wrote {plot_quality_speed(data)}")
        if embed_plot(out):
            print(f"embedded the plot in {out}")
        return

    import core
    from core.bench import machine_description, run_benchmarks
    from core.bench import table as bench_table
    from core.evaluate import evaluate

    data_dir = Path(os.environ.get("COLORIZE_DATA", ROOT.parent / "shared" / "datasets"))
    test = data_dir / "bsds500" / "images" / "test"
    names = [m.name for m in core.methods() if m.capabilities.automatic]
    report = evaluate(names, test, limit=args.limit, progress=True)
    bench = run_benchmarks(names, (256, 512) if args.quick else (256, 512, 2048))
    machine = machine_description()
    today = datetime.date.today().isoformat()
    data = {
        "date": today,
        "limit": args.limit,
        "eval": {
            "data": report.data,
            "settings": report.settings,
            "rows": report.rows,
            "aggregate": report.aggregate(),
            "failures": report.failures,
        },
        "bench": bench,
    }
    RESULTS_JSON.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    plot_quality_speed(data, PLOT)
    limit = f"first {args.limit}" if args.limit else "all"
    lines = [
        "# Results",
        "",
        f"Generated by `make results` (`scripts/gen_results.py`) on {today}; do not edit by "
        "hand. The numbers are also in [results.json](results.json).",
        "",
        f"## Quality on BSDS500 test ({limit} images, full resolution)",
        "",
        "Each method sees only the lightness of the photo. Rows `gray`, `mean-tint` and",
        "`true-28px` are the baselines (see `colorize eval` in [the CLI reference](cli.md)).",
        "PSNR in dB (higher is better), RMSE-αβ (lower is better), colourfulness ratio to",
        "the ground truth (1 is right; the gray baseline is 0).",
        "",
        report.table(),
        "",
        *plot_section(PLOT, out),
        "## Speed",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores; "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        "",
        bench_table(bench),
        "",
    ]
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
