"""training.backbone, training.features: the pretrained network, its checks and the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.backbone import (  # noqa: E402
    WEIGHTS_SHA256,
    EfficientNetLite0,
    GrayBackbone,
    WeightsError,
    lightness_to_gray,
    load_pretrained,
    to_gray,
    weights_path,
)
from training.features import FeatureCache, build_cache  # noqa: E402


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()


def test_pretrained_file_is_checked_and_loads(pretrained):
    from training.backbone import _sha256

    assert _sha256(weights_path()) == WEIGHTS_SHA256
    assert pretrained._fc.out_features == 1000
    assert not pretrained.training


def test_wrong_weights_file_is_refused(tmp_path):
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(WeightsError, match=r"weights\.pth: sha256 .* is not the EfficientNet"):
        load_pretrained(bad)
    with pytest.raises(WeightsError, match=r"weights\.pth: not a readable state_dict"):
        load_pretrained(bad, check_sha256=False)
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="does not fit EfficientNet-Lite0"):
        load_pretrained(bad, check_sha256=False)
    with pytest.raises(WeightsError, match="not found"):
        load_pretrained(tmp_path / "missing.pth")


def test_gray_copy_equals_the_colour_network_on_replicated_gray(pretrained):
    gray = GrayBackbone(to_gray(pretrained)).eval()
    lightness = torch.rand(2, 1, 64, 96) * 100
    rgb = (lightness_to_gray(lightness) * 255).repeat(1, 3, 1, 1)
    with torch.no_grad():
        expected = pretrained(pretrained.normalise(rgb))
        got = gray.logits(lightness)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3)


def test_pyramid_strides_and_bad_size(pretrained):
    levels = pretrained.pyramid(torch.zeros(1, 3, 64, 96))
    assert {k: tuple(v.shape[-2:]) for k, v in levels.items()} == {
        "f2": (32, 48), "f4": (16, 24), "f8": (8, 12), "f16": (4, 6), "f32": (2, 3),
        "head": (2, 3),
    }
    with pytest.raises(ValueError, match="multiples of 32, got 65x96"):
        pretrained.pyramid(torch.zeros(1, 3, 65, 96))


def test_lightness_to_gray_matches_core():
    from core.colorspaces.lab import lab_to_rgb

    light = np.linspace(0, 100, 11, dtype=np.float32)
    lab = np.stack([light, np.zeros_like(light), np.zeros_like(light)], -1)
    expected = np.clip(lab_to_rgb(lab[None])[0, :, 0], 0, 1)
    got = lightness_to_gray(torch.from_numpy(light)).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-3)


def _photos(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        rgb = (rng.random((40 + 8 * i, 56, 3)) * 255).astype(np.uint8)
        paths.append(folder / f"p{i}.png")
        Image.fromarray(rgb).save(paths[-1])
    return paths


def test_feature_cache_resumes_after_an_interruption(tmp_path):
    torch.manual_seed(0)
    net = GrayBackbone(EfficientNetLite0(in_channels=1)).eval()
    paths = _photos(tmp_path / "photos", 5)
    kwargs = {"size": 64, "chunk": 2, "progress": False, "threads": 1}
    part = build_cache(net, paths, tmp_path / "a", stop_after=1, **kwargs)
    assert len(part) == 2
    resumed = build_cache(net, paths, tmp_path / "a", **kwargs)
    whole = build_cache(net, paths, tmp_path / "b", **kwargs)
    assert len(resumed) == len(whole) == 5
    for name in ("f4", "f8", "f16", "f32", "head", "lightness4", "rgb4"):
        np.testing.assert_array_equal(resumed.array(name), whole.array(name))
    assert FeatureCache(tmp_path / "a").meta["done"] == 5
    with pytest.raises(ValueError, match="other images, size, levels or backbone"):
        build_cache(net, paths[:3], tmp_path / "a", **kwargs)
    with pytest.raises(ValueError, match=r"would take .* GB"):
        build_cache(net, paths, tmp_path / "c", max_gb=1e-6, **kwargs)


def _extra_dest(dest: Path, counts: dict[str, int]) -> None:
    """A folder laid out as shared/tools/extra_photos.py writes it: DEST/<source>/*.jpg
    and DEST/<source>.txt listing them."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for source, count in counts.items():
        (dest / source).mkdir(parents=True)
        names = []
        for i in range(count):
            rgb = (rng.random((72, 100, 3)) * 255).astype(np.uint8)
            Image.fromarray(rgb).save(dest / source / f"{i}.jpg", quality=95)
            names.append(f"{source}/{i}.jpg")
        (dest / f"{source}.txt").write_text("\n".join(names) + "\n")


def test_extra_photo_cache_with_crops_resumes_and_records_sources(tmp_path):
    from training.features import OnnxPyramid, extra_items, main, source_of

    dest = tmp_path / "extra"
    _extra_dest(dest, {"faces": 4, "sport": 3})
    paths = extra_items(dest, per_source=2)
    assert [p.parent.name for p in paths] == ["faces", "faces", "sport", "sport"]
    assert extra_items(dest, per_source=2) == paths  # the seeded choice is stable
    assert len(extra_items(dest)) == 7
    roots = {"faces": dest / "faces", "sport": dest / "sport"}
    sources = [source_of(p, roots) for p in paths]
    net = OnnxPyramid(threads=1)
    kwargs = {"size": 64, "chunk": 3, "progress": False, "threads": 1, "crops": 2,
              "sources": sources}
    part = build_cache(net, paths, tmp_path / "a", stop_after=1, **kwargs)
    assert len(part) == 3
    resumed = build_cache(net, paths, tmp_path / "a", **kwargs)
    whole = build_cache(net, paths, tmp_path / "b", **kwargs)
    assert len(resumed) == len(whole) == 8  # 4 photos x 2 crops
    for name in ("f4", "head", "lightness4", "rgb4"):
        np.testing.assert_array_equal(resumed.array(name), whole.array(name))
    rgb4 = whole.array("rgb4")
    assert not np.array_equal(rgb4[0], rgb4[1])  # the zoomed crop is another view
    assert whole.meta["sources"] == ["faces"] * 4 + ["sport"] * 4
    assert whole.meta["images"][:2] == [f"{paths[0]}#0", f"{paths[0]}#1"]
    with pytest.raises(ValueError, match="other images"):
        build_cache(net, paths, tmp_path / "a", **{**kwargs, "crops": 1, "sources": None})
    # the command line gives the same cache
    assert main(["--extra", str(dest), "--per-source", "2", "--crops", "2", "--size", "64",
                 "--threads", "1", "--out", str(tmp_path / "c")]) == 0
    cli = FeatureCache(tmp_path / "c")
    assert cli.meta["sources"] == whole.meta["sources"]
    np.testing.assert_array_equal(cli.array("f8"), whole.array("f8"))
    with pytest.raises(FileNotFoundError, match="no <source>.txt"):
        extra_items(tmp_path / "photos-missing")
