"""ONNX Runtime sessions: the one place where the toolkit creates them.

Providers come from ``providers=`` or ``COLORIZE_PROVIDERS``, intra-op threads from
``COLORIZE_THREADS`` (docs/api.md "Runtime configuration"). Sessions are cached per (model
path, providers, threads) and shared across threads. Before a model file is first used, its
sha256 is checked against the ``manifest.json`` in its folder (docs/plugins.md), then its
metadata format version (``metadata_props["colorize_format"]``, written by ``onnx_export``):
a newer major version than :data:`MODEL_FORMAT_VERSION` is refused before onnxruntime
parses the graph; a graph without the key (exported before it existed) is accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.colorizer import ModelFile
from core.errors import ModelFileError

__all__ = [
    "MANIFEST_NAME",
    "MODEL_FORMAT_KEY",
    "MODEL_FORMAT_VERSION",
    "OnnxModel",
    "available_providers",
    "check_model_format",
    "clear_session_cache",
    "get_session",
    "manifest_model_files",
    "read_manifest",
    "read_onnx_metadata",
    "resolve_providers",
    "sha256_file",
    "verify_model_file",
]

MANIFEST_NAME = "manifest.json"
#: ``metadata_props`` key holding the format version of a graph's metadata.
MODEL_FORMAT_KEY = "colorize_format"
#: "MAJOR.MINOR" of the graph metadata this core reads. A new minor version only adds
#: keys (older cores can still use the graph); a new major version changes the meaning
#: of existing keys or of the graph's inputs/outputs, and older cores refuse it.
MODEL_FORMAT_VERSION = "1.0"
DEFAULT_PROVIDERS = ("CPUExecutionProvider",)

_lock = threading.RLock()
_sessions: dict[tuple, Any] = {}
_verified: dict[Path, str] = {}


def available_providers() -> list[str]:
    """Execution providers this onnxruntime build offers."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def resolve_providers(providers: Sequence[str] | None = None) -> tuple[str, ...]:
    """Providers to use: the argument, else ``COLORIZE_PROVIDERS``, else CPU; ``ValueError``
    if a requested provider is not available in this onnxruntime build."""
    if providers is None:
        env = os.environ.get("COLORIZE_PROVIDERS", "").strip()
        providers = [p.strip() for p in env.split(",") if p.strip()] or list(DEFAULT_PROVIDERS)
    providers = tuple(providers)
    available = available_providers()
    missing = [p for p in providers if p not in available]
    if missing:
        raise ValueError(
            f"execution provider(s) {', '.join(missing)} not available; "
            f"this onnxruntime offers: {', '.join(available)}"
        )
    return providers


def _threads() -> int:
    value = os.environ.get("COLORIZE_THREADS", "0").strip() or "0"
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"COLORIZE_THREADS must be an integer, got {value!r}") from None
    if threads < 0:
        raise ValueError(f"COLORIZE_THREADS must be >= 0, got {threads}")
    return threads


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``manifest.json`` of a model folder.

    The manifest maps file names to ``{"sha256": ..., "bytes": ...}`` under ``"files"``; other
    top-level keys (method configuration, training summary) are free-form.

    Raises
    ------
    ModelFileError
        If the manifest is missing or not valid JSON.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model manifest is missing; reinstall the plugin") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: cannot read model manifest ({exc})") from None
    if not isinstance(manifest.get("files"), dict):
        raise ModelFileError(f"{path}: model manifest has no 'files' table")
    return manifest


def manifest_model_files(folder: str | os.PathLike) -> tuple[ModelFile, ...]:
    """The :class:`ModelFile` records listed in a folder's manifest (empty if none)."""
    try:
        manifest = read_manifest(folder)
    except ModelFileError:
        return ()
    return tuple(
        ModelFile(str(Path(folder) / name), str(entry.get("sha256", "")))
        for name, entry in sorted(manifest["files"].items())
    )


def verify_model_file(path: str | os.PathLike) -> str:
    """Check ``path`` against the sha256 its folder's manifest records; returns the digest,
    cached per path for the process lifetime. Raises :class:`ModelFileError` if the file or
    manifest is missing, the file is not listed, or the digest differs."""
    path = Path(path).resolve()
    with _lock:
        if path in _verified:
            return _verified[path]
    if not path.is_file():
        raise ModelFileError(f"{path}: model file is missing; reinstall the plugin")
    entry = read_manifest(path.parent)["files"].get(path.name)
    if entry is None:
        raise ModelFileError(f"{path}: model file is not listed in {MANIFEST_NAME}")
    digest = sha256_file(path)
    if digest != entry.get("sha256"):
        raise ModelFileError(
            f"{path}: sha256 {digest[:12]}... does not match the manifest's "
            f"{str(entry.get('sha256'))[:12]}...; the file is corrupt or was replaced"
        )
    with _lock:
        _verified[path] = digest
    return digest


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _protobuf_fields(data: memoryview):
    """Yield ``(field number, wire type, value)`` of one protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire in (1, 2, 5):
            size, pos = _varint(data, pos) if wire == 2 else (8 if wire == 1 else 4, pos)
            if pos + size > len(data):
                raise ValueError("field runs past the end of the message")
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """``metadata_props`` of an ONNX file, read from its protobuf encoding.

    Needs neither ``onnx`` nor ``onnxruntime``, so the format version can be checked
    before onnxruntime parses the graph. Only the top level of ``ModelProto`` is walked
    (field 14, ``repeated StringStringEntryProto metadata_props``); the graph itself is
    skipped over, not decoded. ``ValueError`` if the file is not a well-formed protobuf.
    """
    data = memoryview(Path(path).read_bytes())
    props: dict[str, str] = {}
    for number, wire, value in _protobuf_fields(data):
        if number != 14 or wire != 2:
            continue
        entry = {n: bytes(v).decode("utf-8") for n, w, v in _protobuf_fields(value) if w == 2}
        props[entry.get(1, "")] = entry.get(2, "")
    return props


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.strip().strip('"').split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise ValueError(version)
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else 0


def check_model_format(path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Refuse a graph whose metadata format is newer (major) than this core reads.

    ``path`` is the ``.onnx`` file (named in the error), ``metadata`` its ``metadata_props``
    if already read (default: :func:`read_onnx_metadata`). Raises :class:`ModelFileError` if
    ``metadata_props["colorize_format"]`` is not ``"MAJOR.MINOR"`` or has a newer major
    version than :data:`MODEL_FORMAT_VERSION`; a graph without the key passes.
    """
    if metadata is None:
        try:
            metadata = read_onnx_metadata(path)
        except (OSError, ValueError):
            return  # not a readable protobuf: onnxruntime gives the clearer error
    found = metadata.get(MODEL_FORMAT_KEY)
    if found is None:
        return
    try:
        major, _ = _major_minor(found)
    except ValueError:
        raise ModelFileError(
            f"{path}: metadata {MODEL_FORMAT_KEY}={found!r} is not a MAJOR.MINOR version; "
            "the file was not written by onnx_export"
        ) from None
    if major > _major_minor(MODEL_FORMAT_VERSION)[0]:
        shown = found.strip().strip('"')
        raise ModelFileError(
            f"{path}: graph metadata format {shown} is newer than this "
            f"colorize-toolkit reads ({MODEL_FORMAT_VERSION}); upgrade colorize-toolkit "
            "or install a plugin version built for it"
        )


def get_session(
    path: str | os.PathLike, *, providers: Sequence[str] | None = None, verify: bool = True
):
    """Return a cached ``onnxruntime.InferenceSession`` for ``path``.

    Parameters
    ----------
    path : path-like
        The ``.onnx`` file.
    providers : sequence of str, optional
        Execution providers; default from ``COLORIZE_PROVIDERS`` or CPU.
    verify : bool
        Check the file against its manifest first (default True).

    Raises
    ------
    ModelFileError
        Missing or corrupt model file, a graph of a newer metadata format
        (:func:`check_model_format`), or one onnxruntime cannot load.
    """
    import onnxruntime as ort

    path, chosen, threads = Path(path).resolve(), resolve_providers(providers), _threads()
    key = (path, chosen, threads)
    with _lock:
        session = _sessions.get(key)
        if session is not None:
            return session
        if verify:
            verify_model_file(path)
        elif not path.is_file():
            raise ModelFileError(f"{path}: model file is missing")
        check_model_format(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=list(chosen))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelFileError(f"{path}: onnxruntime cannot load the model ({exc})") from exc
        _sessions[key] = session
        return session


def clear_session_cache() -> None:
    """Drop every cached session and verification (tests, or to free memory)."""
    with _lock:
        _sessions.clear()
        _verified.clear()


#: Sessions a forked child inherited from its parent: kept referenced, never used.
_inherited: list[dict[tuple, Any]] = []


def _after_fork_in_child() -> None:
    """Start a forked child (a ``colorize image --workers`` worker) with no sessions: inherited
    ones lack their intra-op threads (using or destroying them would hang), so they are parked
    in :data:`_inherited`; the child creates its own on first use."""
    global _lock, _sessions
    _inherited.append(_sessions)
    _sessions = {}
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class OnnxModel:
    """A lazily loaded ONNX graph with its metadata.

    Parameters
    ----------
    path : path-like
        The ``.onnx`` file, normally inside a plugin's ``models/`` folder.

    Examples
    --------
    >>> model = OnnxModel(MODELS / "net.onnx")          # doctest: +SKIP
    >>> (ab,) = model.run(lightness=x)                   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, *, providers: Sequence[str] | None = None):
        self.path = Path(path)
        self.providers = providers

    @property
    def session(self):
        """The shared ``InferenceSession`` (created and verified on first access)."""
        return get_session(self.path, providers=self.providers)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]

    @property
    def metadata(self) -> dict[str, str]:
        """The graph's ``metadata_props`` (method configuration, written at export)."""
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def metadata_json(self, key: str, default: Any = None) -> Any:
        """``metadata_props[key]`` parsed as JSON, or ``default`` if absent."""
        value = self.metadata.get(key)
        return default if value is None else json.loads(value)

    def run(self, outputs: Sequence[str] | None = None, **inputs: np.ndarray) -> list[np.ndarray]:
        """Run the graph on named inputs; returns the outputs in graph order."""
        expected = set(self.input_names)
        if set(inputs) != expected:
            raise TypeError(
                f"{self.path.name}: expected inputs {sorted(expected)}, got {sorted(inputs)}"
            )
        return self.session.run(list(outputs) if outputs else None, inputs)

    def model_file(self) -> ModelFile:
        """This file as a :class:`ModelFile` with the manifest's sha256 (or "")."""
        listed = {f.path: f for f in manifest_model_files(self.path.parent)}
        return listed.get(str(self.path), ModelFile(str(self.path), ""))

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"
