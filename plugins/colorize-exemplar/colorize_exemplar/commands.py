"""``colorize index`` and ``colorize recommend``: sub-commands this plugin adds to the CLI.

Registered as :class:`core.extensions.Command` targets through the ``register_commands``
hook (``colorize_exemplar.plugin``): each object has ``configure_parser(parser)`` and
``run(args) -> int``.

``colorize index build REFS_DIR -o refs.index [--rebuild] [-q]``
    Build or update a reference index (:func:`colorize_exemplar.index.build_index`).
``colorize index info refs.index [--json]``
    Show an index's header: folder, entries, skipped files, feature extractor.
``colorize recommend TARGET --index refs.index [-k 5] [--top-n 200] [--json]``
    List the recommended references with their scores (He et al. 2018, §4, Eq. 8).
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["index_command", "recommend_command"]


class _IndexCommand:
    """``colorize index {build,info}``."""

    @staticmethod
    def configure_parser(parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Reference index for the exemplar method's recommendation (He et al. 2018, §4)."
        )
        sub = parser.add_subparsers(dest="action", metavar="ACTION")
        sub.required = True
        build = sub.add_parser("build", help="index the colour images of a folder (recursive)")
        build.add_argument("refs_dir", metavar="REFS_DIR", help="folder of colour images")
        build.add_argument("-o", "--output", required=True, metavar="FILE", help="index file")
        build.add_argument(
            "--rebuild",
            action="store_true",
            help="ignore an existing FILE (also of another version) and refit the PCA",
        )
        build.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        info = sub.add_parser("info", help="show an index file's header")
        info.add_argument("index", metavar="FILE")
        info.add_argument("--json", action="store_true", help="machine-readable output")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from colorize_exemplar import index as idx

        if args.action == "info":
            return _info(idx.load_index(args.index), args.json)
        from tqdm import tqdm

        def warn(path: str, reason: str) -> None:
            tqdm.write(f"warning: {path}: skipped: {reason}", file=sys.stderr)

        report = idx.build_index(
            args.refs_dir,
            args.output,
            rebuild=args.rebuild,
            progress=not args.quiet,
            on_skip=warn,
        )
        print(
            f"indexed {report.entries} image(s) in {report.path}: {len(report.processed)} "
            f"processed, {report.kept} unchanged, {len(report.removed)} removed, "
            f"{len(report.skipped)} skipped (unreadable, corrupt or grayscale)"
        )
        if not report.refitted and report.entries > 2 * max(1, report.pca_fitted_on):
            print(
                f"note: the PCA was fitted on {report.pca_fitted_on} image(s); the index now "
                "has more than twice as many: --rebuild refits it",
                file=sys.stderr,
            )
        return 0


def _info(index, as_json: bool) -> int:
    payload = {
        "path": str(index.path),
        "root": str(index.root),
        "root_from_index": index.root_from_index,
        "entries": len(index),
        "skipped": index.skipped,
        "pca_fitted_on": index.pca_fitted_on,
        "feature_extractor": index.feature_extractor,
        "global_dim": int(index.global_features.shape[1]),
        "local_dim": int(index.local_features.shape[2]),
        "created": index.created,
    }
    if as_json:
        print(json.dumps(payload, indent=2))
        return 0
    for key, value in payload.items():
        if key == "skipped":
            value = len(value)
        elif key == "feature_extractor":
            sha = str(value.get("sha256", ""))[:12]
            value = f"{value.get('backbone')} ({value.get('file')}, sha256 {sha}…)"
        print(f"{key}: {value}")
    return 0


class _RecommendCommand:
    """``colorize recommend TARGET --index FILE``."""

    @staticmethod
    def configure_parser(parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Recommend colour references for a gray photo from a reference index: global "
            "ranking, then local ranking by Eq. 8 of He et al. 2018."
        )
        parser.add_argument("target", metavar="TARGET", help="gray (or colour) photo")
        parser.add_argument("--index", required=True, metavar="FILE", help="reference index")
        parser.add_argument("-k", type=int, default=5, help="candidates to list (default 5)")
        parser.add_argument(
            "--top-n",
            type=int,
            default=None,
            metavar="N",
            help="candidates the global ranking keeps for the local one (default 200)",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from colorize_exemplar import index as idx
        from colorize_exemplar import recommend as rec

        if args.k < 1:
            print("colorize recommend: -k must be at least 1", file=sys.stderr)
            return 2
        top_n = rec.TOP_N if args.top_n is None else args.top_n
        candidates = idx.recommend(args.target, args.index, k=args.k, top_n=top_n)
        if args.json:
            print(json.dumps([c.to_dict() for c in candidates], indent=2))
            return 0
        print(f"{'rank':>4}  {'final':>6}  {'global':>6}  {'local':>6}  {'lum':>6}  reference")
        for c in candidates:
            print(
                f"{c.rank:>4}  {c.final_score:6.3f}  {c.global_score:6.3f}  "
                f"{c.local_score:6.3f}  {c.luminance_score:6.3f}  {c.path}"
            )
        return 0


#: The targets of the ``index`` and ``recommend`` commands (``colorize_exemplar.plugin``).
index_command = _IndexCommand()
recommend_command = _RecommendCommand()
