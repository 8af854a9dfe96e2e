"""torch -> ONNX export of trained methods (needs the ``train`` extra).

* :mod:`onnx_export.export` — export, check, parity, metadata, manifest.
* :mod:`onnx_export.quantize` — optional dynamic int8 quantization, measured.
* :mod:`onnx_export.cli` — ``colorize export METHOD --checkpoint CKPT --out DIR``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
