#!/usr/bin/env bash
# One GPU round: end-to-end fine-tuning (Larsson et al. 2016, §3.5) of the shared gray
# backbone and the default method's head, starting from the shipped graphs, on a device
# machine lent for a few minutes (docs/training.md, "A GPU round"). The steps:
#
#   here:      bash scripts/gpu_round.sh pack      # runs/gpu-pack/pack.npz, <= 40 MiB
#              bash scripts/gpu_round.sh stage     # move graphs the round does not need
#   device:    run(command="bash scripts/gpu_round.sh device", carry=["runs/gpu-pack"],
#                  timeout_s=560)       # -> $OUT/ft/{backbone.pt,head.pt,log.jsonl,train.log}
#   here:      bash scripts/gpu_round.sh restore   # the graphs back (always, even on failure)
#              bash scripts/gpu_round.sh score DIR # DIR: the files the device sent back
#
# Why stage: the working tree travels to the device, 64 MiB at most with the pack, and the
# shipped graphs of every plugin are ~75 MB; the round needs two of them (the gray backbone
# and larsson.onnx). `stage` moves the others to runs/gpu-stash (git-ignored) and `restore`
# moves them back; `git status` is clean again after `restore`.
set -euo pipefail
cd "$(dirname "$0")/.."
STASH=runs/gpu-stash
PACK=runs/gpu-pack/pack.npz
BACKBONE=plugins/colorize-backbone/colorize_backbone/models/efficientnet-lite0-gray.onnx
HEAD=plugins/colorize-larsson/colorize_larsson/models/larsson.onnx
# minutes of training on the device; the call's limit (560 s) leaves room for the start,
# the pack's decoding and the last checkpoint
MINUTES=${MINUTES:-6.5}
STEPS=${STEPS:-6000}

case "${1:-}" in
pack)
    D=${COLORIZE_DATA:-../shared/datasets}
    EXTRA=${EXTRA:-/work/extra}
    args=(--data "$D")
    [ -d "$EXTRA" ] && args+=(--extra "$EXTRA") || echo "no $EXTRA: a pack without the extra photos" >&2
    python -m training.pack "$PACK" "${args[@]}" --short-side 144 --max-mib 40
    ;;
stage)
    mkdir -p "$STASH"
    git ls-files '*.onnx' | grep -v -x -e "$BACKBONE" -e "$HEAD" | while read -r f; do
        mkdir -p "$STASH/$(dirname "$f")"
        mv "$f" "$STASH/$f"
    done
    echo "staged: $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) bytes tracked" \
         "+ $(du -sb runs/gpu-pack | cut -f1) bytes of pack (limit 67108864)"
    ;;
restore)
    if [ -d "$STASH" ]; then
        (cd "$STASH" && find . -type f -name '*.onnx') | while read -r f; do
            mv "$STASH/$f" "$f"
        done
        rm -rf "$STASH"
    fi
    git status --short -- '*.onnx'
    ;;
device)
    # on the device machine: its python3 holds torch (CUDA), numpy, onnx, opencv, pillow,
    # pluggy and tqdm; the repository's packages run from the tree
    export PYTHONPATH=$PWD:$PWD/plugins/colorize-larsson:$PWD/plugins/colorize-backbone
    export PYTHONUNBUFFERED=1
    # the run writes under runs/ (last.pt with the optimiser is 40 MB, over the 16 MiB a
    # file that comes back); only what scoring, export and a next round need goes to $OUT
    run=runs/gpu-round/ft
    out=${OUT:-runs/gpu-round/out}/ft
    mkdir -p "$run" "$out"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
    status=0
    python3 -m colorize_larsson.head train larsson --finetune-backbone --pack "$PACK" \
        --backbone "$BACKBONE" --init-head "$HEAD" --out "$run" \
        --crop 128 --batch 64 --samples 256 --steps "$STEPS" --lr 1e-4 --backbone-lr 2e-5 \
        --max-minutes "$MINUTES" >"$run/train.log" 2>&1 || status=$?
    tr '\r' '\n' <"$run/train.log" | grep -v '^finetune' | tail -n 30 || true
    tail -n 3 "$run/log.jsonl" 2>/dev/null || true
    for f in backbone.pt head.pt log.jsonl train.log; do
        [ -f "$run/$f" ] && cp "$run/$f" "$out/"
    done
    ls -l "$out"
    exit "$status"
    ;;
score)
    # the frozen backbone + shipped head against the fine-tuned pair, on the validation
    # photos of both distributions (never test), at 128 and 160 px
    dir=${2:?usage: gpu_round.sh score DIR}
    D=${COLORIZE_DATA:-../shared/datasets}
    for size in 128 160; do
        for pair in "$BACKBONE $HEAD" "$dir/backbone.pt $dir/head.pt"; do
            set -- $pair
            echo "size $size, backbone $1, head $2:"
            python -m colorize_larsson.head score larsson --backbone "$1" --head "$2" \
                --data "$D/bsds500/images/val" --data "$D/everyday_val@select" --size "$size"
        done
    done
    ;;
*)
    sed -n '2,16p' "$0"
    exit 2
    ;;
esac
