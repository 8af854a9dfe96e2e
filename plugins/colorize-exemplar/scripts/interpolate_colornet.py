"""Interpolate the weights of two checkpoints of C: ``(1 - t) * A + t * B`` (torch, training only).

Both checkpoints must come from one warm start trained with ``--freeze-bn`` (same
batch-norm running statistics; they are checked, not averaged). The shipped C of #19 is
``t = 0.2`` between a chrominance-heavy checkpoint (A: copies the reference colours,
colourful) and a conservative one (B: more perceptual weight and a smooth-L1 pull on the
real-reference half), chosen on BSDS500 val (see MODEL_CARD.md, "Training").

Usage::

    python plugins/colorize-exemplar/scripts/interpolate_colornet.py \\
        runs/exemplar-bb/r1/colornet.pt runs/exemplar-bb/r4/colornet.pt 0.2 \\
        runs/exemplar-bb/final/colornet.pt
    python -m colorize_exemplar.train export --out runs/exemplar-bb/final
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def interpolate(a: dict, b: dict, t: float) -> dict:
    """The state ``(1 - t) * a + t * b``; running statistics must be equal and are kept."""
    if a.keys() != b.keys():
        raise ValueError("the checkpoints hold different parameters (not the same C)")
    out = {}
    for name, va in a.items():
        vb = b[name]
        if "running_" in name or "num_batches" in name:
            if not torch.equal(va, vb):
                raise ValueError(
                    f"{name} differs: interpolate only checkpoints trained with --freeze-bn "
                    "from one warm start"
                )
            out[name] = va
        else:
            out[name] = (1 - t) * va + t * vb
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("t", type=float, help="0 = a, 1 = b")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    sa = torch.load(args.a, weights_only=True)
    sb = torch.load(args.b, weights_only=True)
    record = dict(sb["record"])
    record["interpolation"] = {
        "a": str(args.a),
        "b": str(args.b),
        "t": args.t,
        "a_steps": sa["record"]["steps"],
        "b_steps": sb["record"]["steps"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": interpolate(sa["model"], sb["model"], args.t), "record": record}, args.out)


if __name__ == "__main__":
    main()
