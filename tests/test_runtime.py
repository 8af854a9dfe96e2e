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


def _with_format(path, value):
    """Rewrite the fixture graph with metadata ``colorize_format = value`` (and its manifest)."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    from core.runtime import MODEL_FORMAT_KEY, sha256_file

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    props[MODEL_FORMAT_KEY] = value
    helper.set_model_props(model, props)
    onnx.save(model, str(path))
    manifest = {"files": {path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}}}
    (path.parent / "manifest.json").write_text(json.dumps(manifest))
    clear_session_cache()
    return path


def test_read_onnx_metadata_matches_onnx(onnx_model_path):
    onnx = pytest.importorskip("onnx")
    from core.runtime import read_onnx_metadata

    _with_format(onnx_model_path, '"1.0"')
    expected = {p.key: p.value for p in onnx.load(str(onnx_model_path)).metadata_props}
    assert read_onnx_metadata(onnx_model_path) == expected
    assert expected["colorize_format"] == '"1.0"' and expected["colorspace"] == "lab"
    junk = onnx_model_path.with_name("junk.onnx")
    junk.write_bytes(b"\xff\xff\xff")  # a truncated varint
    with pytest.raises(ValueError, match="truncated"):
        read_onnx_metadata(junk)


def test_graph_of_newer_major_format_refused_before_onnxruntime(onnx_model_path, monkeypatch):
    import onnxruntime

    from core.runtime import MODEL_FORMAT_VERSION

    _with_format(onnx_model_path, '"2.0"')

    def parsed(*args, **kwargs):
        raise AssertionError("onnxruntime parsed a graph of an unsupported format")

    monkeypatch.setattr(onnxruntime, "InferenceSession", parsed)
    with pytest.raises(ModelFileError) as info:
        get_session(onnx_model_path)
    message = str(info.value)
    assert str(onnx_model_path.name) in message
    assert "format 2.0" in message and f"({MODEL_FORMAT_VERSION})" in message
    assert "upgrade colorize-toolkit" in message


@pytest.mark.parametrize("value", ['"1.0"', '"1.7"', "1", None])
def test_graph_of_same_major_or_without_format_accepted(onnx_model_path, value):
    if value is not None:
        _with_format(onnx_model_path, value)
    (ab,) = OnnxModel(onnx_model_path).run(L=np.zeros((1, 1, 4, 4), np.float32))
    assert ab.shape == (1, 2, 4, 4)


def test_graph_with_malformed_format_refused(onnx_model_path):
    from core.runtime import check_model_format

    _with_format(onnx_model_path, '"one"')
    with pytest.raises(ModelFileError, match="not a MAJOR.MINOR version"):
        get_session(onnx_model_path)
    check_model_format(onnx_model_path, {})  # no key: accepted
    with pytest.raises(ModelFileError, match="format 3.1 is newer"):
        check_model_format(onnx_model_path, {"colorize_format": "3.1"})
