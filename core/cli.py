"""The ``colorize`` command line (also ``python -m core``; docs/cli.md).

Every sub-command is a :class:`core.extensions.Command` registered through the
``register_commands`` hook: the core's ``methods``, ``image`` and ``demo``
(:mod:`core._builtins`) and those of installed plugins. One dispatch path runs them all,
with one error policy: a sub-command that cannot be imported gets one line naming its
plugin, a :class:`core.errors.ColorizeError` one line naming the sub-command, and Ctrl-C
(or SIGTERM) exit code 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from core import api
from core.batch import BatchSettings, iter_inputs, plan_jobs, run_batch, save_result
from core.errors import ColorizeError, OutputPathError
from core.hints import load_hints
from core.io import IMAGE_EXTENSIONS
from core.plugins import get_registry

__all__ = ["DEMO_IMAGE", "build_parser", "commands", "main", "parse_options"]

#: The photo ``colorize demo`` colorizes (package data of the core).
DEMO_IMAGE = Path(__file__).resolve().parent / "data" / "detroit_ca1915.jpg"


def commands() -> dict[str, Any]:
    """Installed sub-commands: name -> :class:`core.plugins.RegistryEntry` (its ``obj`` is
    the :class:`core.extensions.Command`, not yet loaded)."""
    return get_registry().entries("command")


def _fail(message: str, code: int = 2) -> int:
    """Print ``message`` to stderr; returns the exit ``code``."""
    print(message, file=sys.stderr)
    return code


def _run_command(name: str, entry: Any, argv: Sequence[str]) -> int:
    """Import a sub-command, build its parser and run it (errors: one line)."""
    command = entry.obj
    where = "the core" if entry.plugin == "core" else f"plugin {entry.distribution} {entry.version}"
    try:
        impl = command.load()
        sub = argparse.ArgumentParser(prog=f"colorize {name}", description=command.help)
        impl.configure_parser(sub)
    except Exception as exc:  # a broken plugin gets one clear line, not a traceback
        return _fail(
            f"colorize {name}: the command from {where} failed to load: {type(exc).__name__}: {exc}"
        )
    args = sub.parse_args(list(argv))
    try:
        return int(impl.run(args) or 0)
    except ColorizeError as exc:
        return _fail(f"colorize {name}: {exc}", 1)
    except KeyboardInterrupt:
        return 130


#: ``colorize methods``' closing note: which installed method to use for what, from the
#: model cards and docs/results.md. Keys are method names, or prefixes ending in ``*``; the
#: first key names the recommended method.
_WHICH_METHOD = (
    (
        "larsson",
        "recommended for everyday use: the lowest RMSE-αβ of the shipped methods on BSDS500 "
        "test and on everyday photos (docs/results.md)",
    ),
    ("larsson-lab*", "the paper's other outputs (Lab histograms, joint histogram, L2), to compare"),
    (
        "exemplar",
        "when you have a colour photo of a similar scene to use as reference (or an index of "
        "them: --reference auto)",
    ),
    ("welsh", "a model-free transfer from a reference photo"),
    ("pixcolor", "several different plausible colourings (diverse samples: --samples N)"),
    ("semantic", "diverse samples and a segmentation map; trained on street scenes"),
    ("cnn-*", "fast baselines (a few ms per 512² image) that beat gray only in places"),
)


def _cmd_methods(args: argparse.Namespace) -> int:
    """List the installed methods: the paper once per group of variants (the methods of one
    distribution citing it), the default and the recommended method marked, then a short
    note on which method to use for what."""
    infos = api.methods()
    registry = get_registry()
    try:
        default = api.default_method()
    except ColorizeError:
        default = None
    if args.json:
        payload = {
            "default": default,
            "methods": [m.to_dict() for m in infos],
            "plugins": registry.plugins(),
            "failed_plugins": [f.__dict__ for f in registry.failures],
        }
        print(json.dumps(payload, indent=2))
        return 0

    def wrapped(text: str, indent: str, hang: str = "") -> str:
        return textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent + hang)

    if not infos:
        print("no colorization methods installed")
    elif default is not None:
        print(f"default method: {default} (used when no method is given)")
    recommended = _WHICH_METHOD[0][0]
    groups: dict[tuple[str, str], list[Any]] = {}
    for m in infos:
        groups.setdefault((m.plugin, m.citation), []).append(m)
    # The default's group first, then the others by their first method's name.
    for group in sorted(groups.values(), key=lambda g: default not in {m.name for m in g}):
        print()
        if group[0].citation:
            print(wrapped(f"paper: {group[0].citation}", "", "    "))
        for m in sorted(group, key=lambda m: (m.name != default, m.name)):
            marks = ["default"] if m.name == default else []
            marks += ["recommended"] if m.name == recommended else []
            mark = f" ({', '.join(marks)})" if marks else ""
            caps = ", ".join(m.capabilities.names())
            size = f"{m.working_size}px" if m.working_size else "native"
            print(f"  {m.name}{mark}  [{m.plugin} {m.version}]")
            print(wrapped(m.description, "      "))
            print(f"      capabilities: {caps}; colour space: {m.colorspace}; working size: {size}")
            if m.decoders:
                print(f"      decoders: {', '.join(m.decoders)}")
    names = [m.name for m in infos]
    note = [
        f"  {key}: {advice}"
        for key, advice in _WHICH_METHOD
        if any(n.startswith(key[:-1]) if key.endswith("*") else n == key for n in names)
    ]
    if note:
        print("\nwhich method:")
        print("\n".join(wrapped(line, "", "      ") for line in note))
    for f in registry.failures:
        print(f"FAILED plugin {f.name} ({f.distribution} {f.version}): {f.error}", file=sys.stderr)
    return 0


def _count(value: str, minimum: int, alternative: str = "") -> int:
    """``value`` as an integer >= ``minimum``, or an argparse error naming it."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number{alternative}, got {value!r}") from None
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


_samples_arg = functools.partial(_count, minimum=1)  # ``--samples``: a count >= 1


def _fraction_arg(value: str) -> float:
    """``--vividness``, ``--global-strength``: a number in [0, 1]."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value!r}")
    return number


def _image_options(args: argparse.Namespace) -> dict[str, Any]:
    """The method options of ``colorize image``; bad hints, palette or reference are refused
    (``ValueError`` or :class:`core.errors.ColorizeError`) before any image is read."""
    options = parse_options(args.option)
    if args.hints is not None:
        load_hints(args.hints)
        options["hints"] = args.hints  # read per image, so errors name the file
    if args.vividness is not None:
        options["vividness"] = args.vividness
    if args.palette is not None and args.global_reference is not None:
        raise ValueError("give --palette or --global-reference, not both")
    if args.palette is not None or args.global_reference is not None:
        strength = 1.0 if args.global_strength is None else args.global_strength
        spec = {"palette": args.palette, "reference": args.global_reference, "strength": strength}
        api._global_request(spec)
        options["global_hints"] = spec
    elif args.global_strength is not None:
        raise ValueError("--global-strength needs --palette or --global-reference")
    return options


def _cmd_image(args: argparse.Namespace) -> int:
    try:
        options = _image_options(args)
    except (ColorizeError, ValueError) as exc:
        return _fail(f"colorize image: {exc}")
    out = Path(args.output)
    pairs = list(iter_inputs(args.inputs, exclude=out))
    one_file = len(pairs) == 1 and not Path(args.inputs[0]).is_dir()
    single_file = one_file and out.suffix.lower() in IMAGE_EXTENSIONS
    if not pairs:
        return _fail("colorize: no image files found in the given inputs", 1)
    try:  # refuses outputs that are inputs, before any folder is made or file read
        jobs = plan_jobs(args.inputs, out, samples=args.samples, single_file=single_file)
    except OutputPathError as exc:
        return _fail(f"colorize image: {exc}")
    if not single_file:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _fail(f"colorize: cannot create output folder {out}: {exc.strerror}", 1)
        if not os.access(out, os.W_OK):
            return _fail(f"colorize: output folder {out} is not writable", 1)
    # Every field of the settings but ``options`` is the flag of the same name.
    flags = [f.name for f in dataclasses.fields(BatchSettings) if f.name != "options"]
    settings = BatchSettings(options=options, **{name: getattr(args, name) for name in flags})
    run = dict(output=out, single_file=single_file, workers=args.workers, progress=not args.quiet)
    try:
        summary = run_batch(jobs, settings, **run)
    except ValueError as exc:  # a malformed COLORIZE_THREADS
        return _fail(f"colorize image: {exc}")
    summary.report()
    return summary.exit_code


#: Keyword arguments the CLI sets through its own flags; ``--option`` may not set them.
_RESERVED_OPTIONS = frozenset(
    "image method reference seed decoder index hints global_hints vividness n rank options".split()
)


def parse_options(items: list[str]) -> dict[str, Any]:
    """Method options from ``KEY=VALUE`` strings (``colorize image --option``).

    ``VALUE`` is read as JSON when it parses (``0.8``, ``true``, ``[1, 2]``, ``null``),
    else kept as text (``exemplar-nn``). Keys must be Python identifiers, given once,
    and not one of the arguments the CLI has its own flag for; else ``ValueError`` naming
    the offending item.
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
    try:
        method = args.method or api.default_method()
    except ColorizeError as exc:
        return _fail(f"colorize demo: {exc}", 1)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    result = api.colorize_result(DEMO_IMAGE, method)
    target = out / f"{DEMO_IMAGE.stem}_{method}.png"
    written = save_result(result, target, BatchSettings(overwrite=True, save_uncertainty=True))
    print(f"colorized {DEMO_IMAGE.name} with {method!r} in {result.timings['total']:.2f} s")
    for path in written:
        print(f"  wrote {path.resolve()}")
    return 0


def _configure_methods(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _configure_image(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders (recursive)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or file, for a single input)",
    )
    p.add_argument("--method", "-m", help="method name (default: see `methods`)")
    p.add_argument(
        "--samples",
        type=_samples_arg,
        default=1,
        metavar="N",
        help="draw N diverse samples per image (diverse methods)",
    )
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument(
        "--reference",
        "-r",
        metavar="R",
        help="colour reference image, or 'auto' to let the method recommend one from --index",
    )
    p.add_argument(
        "--index",
        metavar="FILE",
        help="with --reference auto: reference index to recommend from (`colorize index build`)",
    )
    p.add_argument("--decoder", metavar="D", help="decoder (distribution methods)")
    p.add_argument(
        "--hints",
        metavar="FILE",
        help='colour hints from a JSON file: {"hints": [{"x": 120, "y": 48, "color": "#3a6ec8", '
        '"radius": 8}]} (x, y in input pixels; any method)',
    )
    p.add_argument(
        "--palette",
        metavar="COLOURS",
        help='global hint: colours for the whole image, e.g. "#aa3322,#3366cc" (weights: '
        '"#aa3322:2,#3366cc"); applied before --hints (any method)',
    )
    p.add_argument(
        "--global-reference",
        metavar="R",
        help="global hint: a colour photo whose colours the whole image takes (any method; "
        "not --reference, the exemplar methods' input)",
    )
    p.add_argument(
        "--global-strength",
        type=_fraction_arg,
        metavar="S",
        help="how far the global hint moves the colours, 0..1 (default 1)",
    )
    p.add_argument(
        "--vividness",
        type=_fraction_arg,
        metavar="V",
        help="0 muted, 0.5 the method's default look, 1 most vivid; each method maps it to "
        'its own knob (`colorize methods --json`, "vividness")',
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
    flag = functools.partial(p.add_argument, action="store_true")
    flag("--overwrite", help="replace existing outputs")
    flag("--save-uncertainty", help="also write <name>_uncertainty.png where the method has one")
    flag(
        "--save-segmentation",
        help="also write <name>_segmentation.png (classes over the result) where the method "
        "segments",
    )
    p.add_argument(
        "--workers",
        "-j",
        type=_workers_arg,
        metavar="N",
        help="worker processes, each with the method loaded once (default 'auto': the usable "
        "cores, bounded by memory and the number of files; 0 or 1: in this process)",
    )
    flag("--quiet", "-q", help="no progress bar")


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="demo_output", help="output folder")
    p.add_argument("--method", "-m")


#: The core's sub-commands (registered by :mod:`core._builtins`).
methods_command = SimpleNamespace(configure_parser=_configure_methods, run=_cmd_methods)
image_command = SimpleNamespace(configure_parser=_configure_image, run=_cmd_image)
demo_command = SimpleNamespace(configure_parser=_configure_demo, run=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """The top-level ``colorize`` parser: one entry per installed sub-command (for
    ``colorize --help``; each sub-command parses its own arguments)."""
    parser = argparse.ArgumentParser(
        prog="colorize",
        description="Colorize grayscale photos with methods from the literature.",
        epilog="`colorize COMMAND --help` describes a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, entry in commands().items():
        origin = "" if entry.plugin == "core" else f" [{entry.distribution}]"
        sub.add_parser(name, help=entry.obj.help + origin, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorize`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    found = commands()
    if argv and argv[0] in found:
        return _run_command(argv[0], found[argv[0]], argv[1:])
    build_parser().parse_args(argv)  # --help, or an error naming the unknown command
    return 2  # pragma: no cover - parse_args exits


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
