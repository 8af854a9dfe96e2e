"""The ``colorize`` command line (also ``python -m core``).

Sub-commands: ``methods``, ``image``, ``demo``, the delegated ones of :data:`_DELEGATED`
(``eval``, ``bench``, ...; with the ``train`` extra, ``train`` and ``export``), and
those that installed plugins publish under the :data:`COMMANDS_GROUP` entry-point group
(e.g. ``index`` and ``recommend`` from colorize-exemplar).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.batch import (  # noqa: F401 - segmentation_overlay: kept importable from here
    confined,
    iter_inputs,
    output_name,
    segmentation_overlay,
)
from core.errors import ColorizeError, OutputPathError
from core.io import IMAGE_EXTENSIONS

__all__ = ["COMMANDS_GROUP", "build_parser", "main", "plugin_commands"]

DEMO_IMAGE = Path(__file__).resolve().parent.parent / "examples" / "detroit_ca1915.jpg"

#: Sub-commands implemented outside the core (torch needed); module exposes
#: ``configure_parser(parser)`` and ``run(args) -> int``.
_DELEGATED = {
    "train": ("training.cli", "train a method's network (needs the [train] extra)"),
    "export": ("onnx_export.cli", "export a trained checkpoint to ONNX (needs the [train] extra)"),
    "eval": ("core.evaluate", "score methods on a folder of colour photos, with baselines"),
    "bench": ("core.bench", "latency and peak memory of every method"),
    "new-plugin": ("core.scaffold", "scaffold a new plugin distribution"),
    "explain": ("core.explain", "figure of a method's prediction: uncertainty and histograms"),
    "video": ("core.video", "colorize a video file with temporal consistency (keeps fps, audio)"),
    "ui": ("core.ui", "a local web page: open a photo, choose a method, place colour hints"),
}

#: Entry-point group of sub-commands provided by plugins. Each entry point is named after
#: its sub-command and points to a module (or object) with the interface of the
#: :data:`_DELEGATED` modules: ``configure_parser(parser)`` and ``run(args) -> int``.
#: It is imported only when its sub-command runs; a name the core already uses is ignored.
COMMANDS_GROUP = "colorize.commands"


def plugin_commands() -> dict[str, metadata.EntryPoint]:
    """Sub-commands published by installed plugins (name -> entry point, not loaded).

    Names the core already uses (``image``, ``eval``, ...) are left out: core commands
    cannot be replaced by a plugin.
    """
    core_names = {"methods", "image", "demo", *_DELEGATED}
    found: dict[str, metadata.EntryPoint] = {}
    for ep in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        if ep.name not in core_names and ep.name not in found and _plugin_enabled(ep):
            found[ep.name] = ep
    return found


def _plugin_enabled(ep: metadata.EntryPoint) -> bool:
    """False when ``COLORIZE_PLUGINS`` / ``COLORIZE_DISABLE_PLUGINS`` turn off every
    ``colorize`` entry point of the command's distribution (its methods are not loaded,
    so its commands are hidden too)."""
    from core.hookspecs import PROJECT_NAME
    from core.plugins import _env_list

    dist = getattr(ep, "dist", None)
    names = [e.name for e in dist.entry_points if e.group == PROJECT_NAME] if dist else []
    if not names:
        return True
    allow = _env_list("COLORIZE_PLUGINS")
    block = set(_env_list("COLORIZE_DISABLE_PLUGINS") or ())
    return any((allow is None or n in allow) and n not in block for n in names)


def _distribution(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else "unknown plugin"


def _run_plugin_command(name: str, ep: metadata.EntryPoint, argv: Sequence[str]) -> int:
    """Import a plugin's sub-command, build its parser and run it (errors: one line)."""
    try:
        command = ep.load()
        sub = argparse.ArgumentParser(prog=f"colorize {name}")
        command.configure_parser(sub)
    except Exception as exc:  # a broken plugin gets one clear line, not a traceback
        print(
            f"colorize {name}: the command from plugin {_distribution(ep)} failed to load: "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 2
    args = sub.parse_args(list(argv))
    try:
        return int(command.run(args) or 0)
    except ColorizeError as exc:
        print(f"colorize {name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _cmd_methods(args: argparse.Namespace) -> int:
    from core.api import default_method, methods
    from core.plugins import get_registry

    infos = methods()
    registry = get_registry()
    failures = [f.__dict__ for f in registry.failures]
    try:
        default = default_method()
    except ColorizeError:
        default = None
    if args.json:
        payload = {
            "default": default,
            "methods": [m.to_dict() for m in infos],
            "plugins": registry.plugins(),
            "failed_plugins": failures,
        }
        print(json.dumps(payload, indent=2))
        return 0
    if not infos:
        print("no colorization methods installed")
    for m in infos:
        mark = " (default)" if m.name == default else ""
        caps = ", ".join(m.capabilities.names())
        size = f"{m.working_size}px" if m.working_size else "native"
        print(f"{m.name}{mark}  [{m.plugin} {m.version}]")
        print(f"    {m.description}")
        print(f"    capabilities: {caps}; colour space: {m.colorspace}; working size: {size}")
        if m.decoders:
            print(f"    decoders: {', '.join(m.decoders)}")
        if m.citation:
            print(f"    paper: {m.citation}")
    for f in registry.failures:
        print(f"FAILED plugin {f.name} ({f.distribution} {f.version}): {f.error}", file=sys.stderr)
    return 0


# The batch helpers live in core.batch; these names stay importable from here.
_iter_inputs = iter_inputs
_output_name = output_name
_confined = confined


def _count(value: str, minimum: int, alternative: str = "") -> int:
    """``value`` as an integer >= ``minimum``, or an argparse error naming it."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number{alternative}, got {value!r}"
        ) from None
    if count < minimum:
        raise argparse.ArgumentTypeError(
            f"expected a number >= {minimum}{alternative}, got {count}"
        )
    return count


def _workers_arg(value: str) -> int | None:
    """``--workers``: ``auto`` (the default) or a count >= 0 (0: in this process)."""
    if value.strip().lower() == "auto":
        return None
    return _count(value, 0, " or 'auto'")


def _samples_arg(value: str) -> int:
    """``--samples``: a count >= 1."""
    return _count(value, 1)


def _cmd_image(args: argparse.Namespace) -> int:
    from core.batch import BatchSettings, plan_jobs, run_batch

    try:
        options = parse_options(args.option)
    except ValueError as exc:
        print(f"colorize image: {exc}", file=sys.stderr)
        return 2
    if args.hints is not None:
        from core.hints import load_hints

        try:
            load_hints(args.hints)  # refuse a bad file before any image is read
        except ColorizeError as exc:
            print(f"colorize image: {exc}", file=sys.stderr)
            return 2
        options["hints"] = args.hints  # read per image, so errors name the file
    out = Path(args.output)
    pairs = list(_iter_inputs(args.inputs, exclude=out))
    single_file = (
        len(pairs) == 1
        and not Path(args.inputs[0]).is_dir()
        and out.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not pairs:
        print("colorize: no image files found in the given inputs", file=sys.stderr)
        return 1
    try:  # refuses outputs that are inputs, before any folder is made or file read
        jobs = plan_jobs(args.inputs, out, samples=args.samples, single_file=single_file)
    except OutputPathError as exc:
        print(f"colorize image: {exc}", file=sys.stderr)
        return 2
    if not single_file:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"colorize: cannot create output folder {out}: {exc.strerror}", file=sys.stderr)
            return 1
        if not os.access(out, os.W_OK):
            print(f"colorize: output folder {out} is not writable", file=sys.stderr)
            return 1
    settings = BatchSettings(
        method=args.method,
        samples=args.samples,
        seed=args.seed,
        reference=args.reference,
        decoder=args.decoder,
        index=args.index,
        options=options,
        overwrite=args.overwrite,
        save_uncertainty=args.save_uncertainty,
        save_segmentation=args.save_segmentation,
    )
    try:
        summary = run_batch(
            jobs,
            settings,
            output=out,
            single_file=single_file,
            workers=args.workers,
            progress=not args.quiet,
        )
    except ValueError as exc:  # a malformed COLORIZE_THREADS
        print(f"colorize image: {exc}", file=sys.stderr)
        return 2
    summary.report()
    return summary.exit_code


#: Keyword arguments the CLI sets through its own flags; ``--option`` may not set them.
_RESERVED_OPTIONS = frozenset(
    {"image", "method", "reference", "seed", "decoder", "index", "hints", "n", "rank", "options"}
)


def parse_options(items: list[str]) -> dict[str, Any]:
    """Method options from ``KEY=VALUE`` strings (``colorize image --option``).

    ``VALUE`` is read as JSON when it parses (``0.8``, ``true``, ``[1, 2]``, ``null``),
    else kept as text (``exemplar-nn``). Keys must be Python identifiers, given once,
    and not one of the arguments the CLI has its own flag for.

    Raises
    ------
    ValueError
        Naming the offending item.
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"--option expects KEY=VALUE with KEY a name, got {item!r}")
        if key in _RESERVED_OPTIONS:
            raise ValueError(f"--option {key}=...: use the command's own flag for {key!r}")
        if key in options:
            raise ValueError(f"--option {key} given twice")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


def _cmd_demo(args: argparse.Namespace) -> int:
    from core import api

    try:
        method = args.method or api.default_method()
    except ColorizeError as exc:
        print(f"colorize demo: {exc}", file=sys.stderr)
        return 1
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    result = api.colorize_result(DEMO_IMAGE, method)
    target = out / f"{DEMO_IMAGE.stem}_{method}.png"
    result.save(target, overwrite=True)
    written = [target]
    if result.uncertainty is not None:
        from core.io import save_image

        u = result.uncertainty_image()
        written.append(
            save_image(
                out / f"{DEMO_IMAGE.stem}_{method}_uncertainty.png",
                u[..., None].repeat(3, -1),
                overwrite=True,
            )
        )
    t = result.timings
    print(f"colorized {DEMO_IMAGE.name} with {method!r} in {t['total']:.2f} s")
    for path in written:
        print(f"  wrote {path.resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``colorize`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="colorize", description="Colorize grayscale photos with methods from the literature."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("methods", help="list installed methods and plugins")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_methods)

    p = sub.add_parser("image", help="colorize image files or folders")
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders (recursive)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or file, for a single input)",
    )
    p.add_argument("--method", "-m", default=None, help="method name (default: see `methods`)")
    p.add_argument(
        "--samples",
        type=_samples_arg,
        default=1,
        metavar="N",
        help="draw N diverse samples per image (diverse methods)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument(
        "--reference",
        "-r",
        default=None,
        metavar="R",
        help="colour reference image, or 'auto' to let the method recommend one from --index",
    )
    p.add_argument(
        "--index",
        default=None,
        metavar="FILE",
        help="with --reference auto: reference index to recommend from (`colorize index build`)",
    )
    p.add_argument("--decoder", default=None, metavar="D", help="decoder (distribution methods)")
    p.add_argument(
        "--hints",
        default=None,
        metavar="FILE",
        help='colour hints from a JSON file: {"hints": [{"x": 120, "y": 48, "color": "#3a6ec8", '
        '"radius": 8}]} (x, y in input pixels; any method)',
    )
    p.add_argument(
        "--option",
        "-O",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method-specific option, repeatable (e.g. -O matcher=exemplar-nn-coarse-to-fine, "
        "-O temperature=0.8); VALUE is read as JSON when it parses, else as text",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--save-uncertainty",
        action="store_true",
        help="also write <name>_uncertainty.png where the method has one",
    )
    p.add_argument(
        "--save-segmentation",
        action="store_true",
        help="also write <name>_segmentation.png (classes over the result) where the method "
        "segments",
    )
    p.add_argument(
        "--workers",
        "-j",
        type=_workers_arg,
        default=None,
        metavar="N",
        help="worker processes, each with the method loaded once (default 'auto': the usable "
        "cores, bounded by memory and the number of files; 0: in this process)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_image)

    p = sub.add_parser("demo", help="colorize the bundled photo with the default method")
    p.add_argument("-o", "--output", default="demo_output", help="output folder")
    p.add_argument("--method", "-m", default=None)
    p.set_defaults(func=_cmd_demo)

    for name, (module, help_text) in _DELEGATED.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.set_defaults(delegate=module)
    for name, ep in plugin_commands().items():
        p = sub.add_parser(
            name,
            help=f"from plugin {_distribution(ep)}; see `colorize {name} --help`",
            add_help=False,
        )
        p.set_defaults(plugin_command=ep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorize`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    parser = build_parser()
    if argv and argv[0] in _DELEGATED:
        module_name = _DELEGATED[argv[0]][0]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            print(
                f"colorize {argv[0]}: unavailable ({exc}); install the extra with "
                "`pip install 'colorize-toolkit[train]'`",
                file=sys.stderr,
            )
            return 2
        sub = argparse.ArgumentParser(prog=f"colorize {argv[0]}")
        module.configure_parser(sub)
        return int(module.run(sub.parse_args(argv[1:])) or 0)
    if argv:
        ep = plugin_commands().get(argv[0])
        if ep is not None:
            return _run_plugin_command(argv[0], ep, argv[1:])
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ColorizeError as exc:
        print(f"colorize: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
