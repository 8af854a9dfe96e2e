"""The models folder's ``manifest.json``: sha256 and size per file, checked by the core.

The format is the one :func:`core.runtime.read_manifest` reads:
``{"files": {"name.onnx": {"sha256": "...", "bytes": N}}, ...}``; other
top-level keys are kept as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# One definition of the file name and the digest, shared with the loader that checks them.
from core.runtime import MANIFEST_NAME, sha256_file

__all__ = ["MANIFEST_NAME", "sha256_file", "update_manifest"]


def update_manifest(
    folder: str | os.PathLike, files: Iterable[str | os.PathLike], **extra: Any
) -> dict[str, Any]:
    """Record ``files`` (in ``folder``) in its manifest, keeping other entries; returns it.

    Entries whose file no longer exists are dropped. ``extra`` keys are stored
    at the top level (e.g. ``methods={...}``) and merged into existing dicts.
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    manifest: dict[str, Any] = {"files": {}}
    if path.is_file():
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest.setdefault("files", {})
    for file in files:
        file = Path(file)
        if file.parent.resolve() != folder.resolve():
            raise ValueError(f"{file} is not inside the models folder {folder}")
        manifest["files"][file.name] = {"sha256": sha256_file(file), "bytes": file.stat().st_size}
    manifest["files"] = {
        name: entry
        for name, entry in sorted(manifest["files"].items())
        if (folder / name).is_file()
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key].update(value)
        else:
            manifest[key] = value
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return manifest
