"""Run inside a fresh venv that has only the built wheels installed (``make dist-check``).

Proves the wheels are complete: the core and every plugin import from site-packages
(not the source tree), every plugin is found through its entry point, every model file
inside the wheels matches its manifest, and each automatic method colorizes a photo
without torch being installed.
"""

import sys
from pathlib import Path

import numpy as np

import core
from core.plugins import get_registry
from core.runtime import verify_model_file


def main() -> int:
    photo = Path(sys.argv[1])
    expected = set(sys.argv[2:])
    assert "site-packages" in core.__file__, f"core imported from {core.__file__}"
    registry = get_registry()
    assert not registry.failures, f"plugins failed to load: {registry.failures}"
    plugins = {p["distribution"] for p in registry.plugins()}
    missing = expected - plugins
    assert not missing, f"plugins not found through entry points: {sorted(missing)}"
    for info in core.methods():
        for model in info.model_files:
            assert "site-packages" in model.path, model.path
            verify_model_file(model.path)
        if info.capabilities.automatic:
            out = core.colorize(photo, info.name, seed=0)
            assert out.size == core.colorize(photo, info.name, seed=0).size
            print(f"ok: {info.name} ({info.plugin} {info.version}), {len(info.model_files)} model file(s)")
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("torch is installed in the wheel venv; inference must not need it")
    assert np.__version__
    return 0


if __name__ == "__main__":
    sys.exit(main())
