"""Dynamic int8 quantization of an exported graph, with its cost and gain measured.

``measure_quantization`` quantizes the weights to int8
(``onnxruntime.quantization.quantize_dynamic``), then measures on real photos
the PSNR of the float and int8 graphs against the truth (mode decoding for
logits outputs, at working resolution) and the latency of both on a 512x512
input. The int8 file is kept only when asked (``keep=True``) — the toolkit
ships it only when the speed gain pays for the accuracy cost.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["measure_quantization"]


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _latency(session, shape: tuple[int, ...], repeats: int = 10) -> float:
    name = session.get_inputs()[0].name
    x = (np.random.default_rng(0).random(shape, dtype=np.float32) * 100).astype(np.float32)
    session.run(None, {name: x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {name: x})
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _chroma(session, lightness: np.ndarray, bins: dict | None) -> np.ndarray:
    (out,) = session.run(None, {session.get_inputs()[0].name: lightness})
    if out.ndim == 4:  # (N, 2, H, W) chroma
        return out[0]
    width = (bins["high"] - bins["low"]) / bins["count"]
    centers = bins["low"] + width * (np.arange(bins["count"]) + 0.5)
    return centers[out[0].argmax(axis=1)].astype(np.float32)  # (2, H, W), mode


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def measure_quantization(
    path: str | os.PathLike,
    real_dir: str | os.PathLike | None,
    *,
    keep: bool = False,
    images: int = 50,
) -> dict[str, Any]:
    """Quantize ``path`` to int8 and measure PSNR cost and speed gain; returns a report."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from training import data as datalib
    from training.lab import lab_to_rgb, rgb_to_lab

    path = Path(path)
    int8 = path.with_name(path.stem + ".int8.onnx")
    quantize_dynamic(str(path), str(int8), weight_type=QuantType.QInt8)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    bins = json.loads(meta.get("bins", "null"))
    working = int(json.loads(meta.get("working_size", "64")))
    multiple = int(json.loads(meta.get("size_multiple", "1")))
    float_session, int8_session = _session(path), _session(int8)
    report: dict[str, Any] = {
        "graph": path.name,
        "bytes_float": path.stat().st_size,
        "bytes_int8": int8.stat().st_size,
        "latency_512_float_s": _latency(float_session, (1, 1, 512, 512)),
        "latency_512_int8_s": _latency(int8_session, (1, 1, 512, 512)),
    }
    report["speedup"] = report["latency_512_float_s"] / report["latency_512_int8_s"]
    if real_dir:
        paths = datalib.find_images(real_dir)[:images]
        loaded = datalib.load_images([(p, None) for p in paths], short_side=None, progress=False)
        psnr = {"float": [], "int8": []}
        for image in datalib.working_images(loaded, working, multiple):
            rgb = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
            lab = rgb_to_lab(rgb)
            lightness = lab[:, :1].contiguous().numpy()
            for key, session in (("float", float_session), ("int8", int8_session)):
                chroma = torch.from_numpy(_chroma(session, lightness, bins))[None]
                pred = lab_to_rgb(torch.cat([lab[:, :1], chroma], dim=1))
                psnr[key].append(_psnr(pred.numpy(), rgb.numpy()))
        report["images"] = len(psnr["float"])
        report["psnr_float"] = float(np.mean(psnr["float"]))
        report["psnr_int8"] = float(np.mean(psnr["int8"]))
        report["psnr_cost_db"] = report["psnr_float"] - report["psnr_int8"]
    if not keep:
        int8.unlink()
        report["kept"] = False
    else:
        report["kept"] = str(int8)
    return report
