"""The optional C accelerator of the core (``core/_kernels.c``).

``setup.py`` builds the extension ``core._kernels`` where a C compiler is available; it is
optional, so a build without one installs the pure-Python package, whose OpenCV and numpy
code paths compute the same results (to about 1e-5 of the [0, 1] range, tested in
``tests/test_kernels.py``). The kernels are single passes over the pixels that release
the GIL, so the core's strips still run on several threads:

- ``recombine_lab(lightness, chroma, gray, out)``: the full-resolution step of
  :meth:`core.colorspaces.lab.LabSpace.recombine` (Lab -> clipped sRGB with the lightness
  correction of Larsson et al. 2016, App. A.4);
- ``rgb_to_lab(rgb, out, constants)`` and ``rgb_to_lightness(rgb, out, constants)``:
  float32 sRGB -> CIE L*a*b* (or L* alone), :func:`core.colorspaces.lab.rgb_to_lab` and
  :meth:`~core.colorspaces.lab.LabSpace.lightness` (accuracy: see :mod:`core.colorspaces.lab`);
- ``quantize(src, dst)``: float32 -> uint8/uint16 as :func:`core.io.quantize` does it.

Set the environment variable ``COLORIZE_KERNELS=0`` to run the Python paths instead (read
on every call; the benchmarks compare both in one process).
"""

from __future__ import annotations

import os
from types import ModuleType

try:
    from core import _kernels
except ImportError:  # pragma: no cover - depends on how the package was built
    _kernels = None

__all__ = ["compiled_kernels"]


def compiled_kernels() -> ModuleType | None:
    """The C kernels, or None where the core runs its Python paths.

    Returns
    -------
    module or None
        ``core._kernels``; None when the package was built without it or when
        ``COLORIZE_KERNELS`` is ``0``.
    """
    return None if os.environ.get("COLORIZE_KERNELS", "1") == "0" else _kernels
