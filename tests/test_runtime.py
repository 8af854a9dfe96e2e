"""ONNX Runtime session factory, manifests and model verification (core/runtime.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import ModelFileError
from core.runtime import (
    OnnxModel,
    clear_session_cache,
    get_session,
    manifest_model_files,
    resolve_providers,
    verify_model_file,
)


def test_session_cached_and_metadata(onnx_model_path):
    first = get_session(onnx_model_path)
    assert get_session(onnx_model_path) is first
    model = OnnxModel(onnx_model_path)
    assert model.input_names == ["L"] and model.output_names == ["ab"]
    assert model.metadata["colorspace"] == "lab"
    assert model.metadata_json("working_size") == 32
    assert model.metadata_json("missing", "dflt") == "dflt"
    (ab,) = model.run(L=np.zeros((1, 1, 5, 7), np.float32))
    assert ab.shape == (1, 2, 5, 7)
    with pytest.raises(TypeError, match=r"expected inputs \['L'\]"):
        model.run(x=np.zeros((1, 1, 5, 7), np.float32))


def test_corrupt_model_refused(onnx_model_path):
    clear_session_cache()
    data = bytearray(onnx_model_path.read_bytes())
    data[-1] ^= 0xFF
    onnx_model_path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match the manifest"):
        get_session(onnx_model_path)


def test_missing_model_and_manifest(onnx_model_path):
    clear_session_cache()
    with pytest.raises(ModelFileError, match="model file is missing"):
        verify_model_file(onnx_model_path.with_name("other.onnx"))
    (onnx_model_path.parent / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match="manifest is missing"):
        verify_model_file(onnx_model_path)
    assert manifest_model_files(onnx_model_path.parent) == ()


def test_unlisted_model_refused(onnx_model_path):
    clear_session_cache()
    manifest = onnx_model_path.parent / "manifest.json"
    manifest.write_text(json.dumps({"files": {}}))
    with pytest.raises(ModelFileError, match="not listed"):
        get_session(onnx_model_path)


def test_providers_checked(monkeypatch):
    assert resolve_providers() == ("CPUExecutionProvider",)
    with pytest.raises(ValueError, match="NoSuchExecutionProvider.*not available"):
        resolve_providers(["NoSuchExecutionProvider"])
    monkeypatch.setenv("COLORIZE_PROVIDERS", "NoSuchExecutionProvider")
    with pytest.raises(ValueError, match="not available"):
        resolve_providers()


def test_threads_env_validated(onnx_model_path, monkeypatch):
    monkeypatch.setenv("COLORIZE_THREADS", "many")
    with pytest.raises(ValueError, match="COLORIZE_THREADS must be an integer"):
        get_session(onnx_model_path)
    monkeypatch.setenv("COLORIZE_THREADS", "1")
    assert get_session(onnx_model_path) is not None
