"""Reference recommendation (He et al. 2018, §4): index file, ranking, reference="auto", CLI."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from colorize_exemplar import index as idx
from colorize_exemplar.recommend import compress, describe, fit_pca, rank
from PIL import Image

import core
from core.backbones import get_backbone
from core.cli import main
from core.errors import CapabilityError, ColorizeError


def _photo(seed: int, size=(48, 64)) -> np.ndarray:
    """A smooth synthetic colour photo (uint8), different for every seed."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / 10.0
    f = rng.uniform(0.3, 1.5, size=(3, 2))
    phase = rng.uniform(0, 6, size=3)
    rgb = np.stack([np.sin(f[c, 0] * x + f[c, 1] * y + phase[c]) for c in range(3)], -1)
    return (127 + 110 * rgb).astype(np.uint8)


@pytest.fixture
def refs(tmp_path) -> Path:
    """Five colour photos (one in a sub-folder), a corrupt file and a gray one."""
    folder = tmp_path / "refs"
    (folder / "sub").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(_photo(i)).save(folder / f"p{i}.png")
    Image.fromarray(_photo(4)).save(folder / "sub" / "p4.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    Image.fromarray(_photo(5)[..., 0]).save(folder / "gray.png")
    return folder


class _CountingPyramid:
    """The gray backbone's features, counting the images it is asked about."""

    def __init__(self):
        self.calls = 0
        self.features = get_backbone("efficientnet-lite0-gray").features

    def __call__(self, lightness):
        self.calls += 1
        return self.features(lightness)


def test_eq8_prefers_a_matching_luminance_when_semantics_tie():
    rng = np.random.default_rng(1)
    local = rng.standard_normal((2, 4, 3)).astype(np.float32)
    local[1] = local[0]  # same local features
    hist = rng.standard_normal((2, 4, 5)).astype(np.float32)
    hist /= np.linalg.norm(hist, axis=-1, keepdims=True)
    glob = np.ones((2, 3), np.float32)
    ranking = rank(glob[0], local[0], hist[1], glob, local, hist, k=2)
    assert ranking.order.tolist() == [1, 0]
    assert ranking.final_score[0] == pytest.approx(
        ranking.local_score[0] + 0.25 * ranking.luminance_score[0], abs=1e-6
    )
    assert ranking.luminance_score[0] == pytest.approx(1.0, abs=1e-5)


def test_pca_compression_keeps_unit_norm_and_few_samples_work():
    pca = fit_pca(np.random.default_rng(0).standard_normal((5, 12)), 8)
    assert pca.components.shape == (4, 12)  # rank of 5 centred samples
    z = compress(np.ones((3, 12)), pca)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert fit_pca(np.ones((1, 6)), 4).components.shape == (6, 6)


def test_build_skips_bad_files_and_updates_incrementally(refs, tmp_path):
    out = tmp_path / "refs.index"
    counter = _CountingPyramid()
    skipped = []
    report = idx.build_index(
        refs, out, features=counter, progress=False, on_skip=lambda p, r: skipped.append((p, r))
    )
    assert report.entries == 5 and counter.calls == 5
    assert sorted(report.processed) == ["p0.png", "p1.png", "p2.png", "p3.png", "sub/p4.png"]
    reasons = dict((Path(p).name, r) for p, r in skipped)
    assert set(reasons) == {"broken.jpg", "gray.png"}
    assert "grayscale" in reasons["gray.png"]
    assert [s["path"] for s in report.skipped] == ["broken.jpg", "gray.png"]
    before = idx.load_index(out)
    assert (
        before.entries[0]["path"] == "p0.png" and not Path(before.entries[0]["path"]).is_absolute()
    )

    # Re-run on the same -o: nothing new, nothing processed (skipped files not retried).
    counter.calls = 0
    report = idx.build_index(refs, out, features=counter, progress=False, on_skip=skipped.append)
    assert (report.processed, report.kept, counter.calls) == ([], 5, 0)

    # One new file, one removed: only the new one goes through the network.
    Image.fromarray(_photo(6)).save(refs / "sub" / "new.png")
    (refs / "p1.png").unlink()
    report = idx.build_index(refs, out, features=counter, progress=False)
    assert report.processed == ["sub/new.png"] and counter.calls == 1
    assert report.removed == ["p1.png"] and report.entries == 5
    after = idx.load_index(out)
    assert [e["path"] for e in after.entries] == [
        "p0.png",
        "p2.png",
        "p3.png",
        "sub/new.png",
        "sub/p4.png",
    ]
    # Entries kept from before are unchanged (same PCA basis, same features).
    np.testing.assert_array_equal(after.global_features[0], before.global_features[0])
    np.testing.assert_array_equal(after.pca_global.components, before.pca_global.components)
    # The same -o for another folder is refused (it would drop every entry).
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(idx.ReferenceIndexError, match="refs.index: indexes .*refs, not .*other"):
        idx.build_index(other, out, progress=False)
    # An unwritable destination: a clear error, the old index untouched.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(idx.ReferenceIndexError, match="cannot write the index"):
        idx.build_index(refs, blocker / "refs.index", progress=False, on_skip=lambda *a: None)
    # --rebuild processes everything again.
    counter.calls = 0
    report = idx.build_index(
        refs, out, features=counter, progress=False, rebuild=True, on_skip=lambda *a: None
    )
    assert counter.calls == 5 and report.refitted
    assert not list(tmp_path.glob(".refs.index.*"))  # no temporary file left behind


def _rewrite(src: Path, dst: Path, edit) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "header.json":
                header = json.loads(data)
                edit(header)
                data = json.dumps(header).encode()
            zout.writestr(item.filename, data)


def test_index_refuses_corrupted_and_mismatched_files(refs, tmp_path, monkeypatch):
    good = tmp_path / "good.index"
    idx.build_index(refs, good, progress=False, on_skip=lambda *a: None)
    raw = good.read_bytes()

    cases = {}
    (tmp_path / "flipped.index").write_bytes(raw[:3000] + bytes([raw[3000] ^ 0xFF]) + raw[3001:])
    cases["flipped.index"] = "corrupt"
    (tmp_path / "truncated.index").write_bytes(raw[: len(raw) // 2])
    cases["truncated.index"] = "corrupted or not a reference index"
    (tmp_path / "text.index").write_text("hello")
    cases["text.index"] = "corrupted or not a reference index"
    cases["missing.index"] = "no such reference index file"
    _rewrite(good, tmp_path / "v99.index", lambda h: h.update(format_version=99))
    cases["v99.index"] = "format version 99, this plugin reads version 2"
    _rewrite(good, tmp_path / "foreign.index", lambda h: h.update(format="something-else"))
    cases["foreign.index"] = "not a colorize-exemplar reference index"
    _rewrite(good, tmp_path / "settings.index", lambda h: h["settings"].update(grid=4))
    cases["settings.index"] = "other descriptor settings"
    _rewrite(good, tmp_path / "escape.index", lambda h: h["entries"][0].update(path="../x.png"))
    cases["escape.index"] = "malformed entries"
    for name, problem in cases.items():
        with pytest.raises(idx.ReferenceIndexError, match=problem) as info:
            idx.load_index(tmp_path / name)
        assert name in str(info.value) and isinstance(info.value, ColorizeError)

    # Another feature extractor (a re-exported gray backbone): refused, also when
    # updating, until --rebuild.
    from colorize_exemplar import features

    real = features.extractor()
    monkeypatch.setattr(features, "extractor", lambda: {**real, "sha256": "0" * 64})
    with pytest.raises(idx.ReferenceIndexError, match="another feature extractor.*--rebuild"):
        idx.load_index(good)
    with pytest.raises(idx.ReferenceIndexError, match="good.index: built with another"):
        idx.build_index(refs, good, progress=False)
    assert (
        idx.build_index(refs, good, progress=False, rebuild=True, on_skip=lambda *a: None).entries
        == 5
    )


def test_index_survives_moving_the_folder_with_it(refs, tmp_path):
    idx.build_index(refs, refs / "refs.index", progress=False, on_skip=lambda *a: None)
    moved = tmp_path / "elsewhere"
    shutil.move(refs, moved)
    target = np.asarray(Image.open(moved / "p2.png").convert("L"))
    (best,) = idx.recommend(target, moved / "refs.index", k=1)
    assert best.path == moved / "p2.png"
    (moved / "p2.png").unlink()
    with pytest.raises(idx.ReferenceIndexError, match="'p2.png' not found"):
        idx.recommend(target, moved / "refs.index", k=1)


def test_reference_auto_uses_the_top1_recommendation(refs, tmp_path):
    out = tmp_path / "refs.index"
    idx.build_index(refs, out, progress=False, on_skip=lambda *a: None)
    gray = np.asarray(Image.open(refs / "p3.png").convert("L"))
    (best,) = idx.recommend(gray, out, k=1)
    result = core.colorize_result(gray, "exemplar", reference="auto", index=out)
    assert result.metadata["reference"] == str(best.path)
    explicit = core.colorize_result(gray, "exemplar", reference=best.path)
    np.testing.assert_allclose(result.rgb, explicit.rgb, atol=1e-6)


def test_reference_auto_without_an_index_is_a_clear_error():
    gray = np.full((32, 48), 0.5, np.float32)
    with pytest.raises(CapabilityError, match="reference='auto' needs index=PATH"):
        core.colorize(gray, "exemplar", reference="auto")
    with pytest.raises(idx.ReferenceIndexError, match="nowhere.index: no such reference index"):
        core.colorize(gray, "exemplar", reference="auto", index="nowhere.index")
    assert core.get_method("exemplar").capabilities.recommend


def test_recommend_and_index_commands_end_to_end(refs, tmp_path, capsys):
    out = tmp_path / "refs.index"
    assert main(["index", "build", str(refs), "-o", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert "indexed 5 image(s)" in captured.out and "2 skipped" in captured.out
    assert "broken.jpg: skipped" in captured.err
    target = tmp_path / "target.png"
    Image.fromarray(_photo(0)[..., 1]).save(target)
    assert main(["recommend", str(target), "--index", str(out), "-k", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert {"global", "local", "luminance", "final"} <= set(rows[0])
    assert rows[0]["final"] >= rows[1]["final"] >= rows[2]["final"]
    assert main(["recommend", str(target), "--index", str(out), "-k", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["rank", "final", "global", "local", "lum"] and len(table) == 3
    assert main(["index", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 5
    # colorize image --reference auto --index
    result = tmp_path / "colour.png"
    code = main(
        ["image", str(target), "-o", str(result), "-m", "exemplar", "-r", "auto"]
        + ["--index", str(out), "-q"]
    )
    assert code == 0 and Image.open(result).size == (64, 48)
    capsys.readouterr()
    # A corrupted index: one clear line, exit code 1, no traceback.
    bad = tmp_path / "bad.index"
    bad.write_bytes(b"PK\x03\x04 garbage")
    assert main(["recommend", str(target), "--index", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("colorize recommend: ") and "bad.index" in err
    assert "Traceback" not in err


def _bsds(split: str, count: int) -> list[Path]:
    data = os.environ.get("COLORIZE_DATA")
    if not data:
        pytest.skip("set COLORIZE_DATA to the datasets folder (with bsds500/) to run this test")
    paths = sorted((Path(data) / "bsds500" / "images" / split).glob("*.jpg"))[:count]
    if len(paths) < count:
        pytest.skip(f"fewer than {count} BSDS500 {split} photos under {data}")
    return paths


def _augment(rgb: np.ndarray, seed: int) -> np.ndarray:
    """Horizontal flip, a crop keeping ~80 % of each side, a small colour jitter."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    top, left = rng.integers(0, h // 10), rng.integers(0, w // 10)
    out = rgb[:, ::-1][top : top + int(0.85 * h), left : left + int(0.85 * w)]
    gain = rng.uniform(0.95, 1.05, size=3)
    return np.clip(out * gain + rng.uniform(-0.02, 0.02), 0, 1).astype(np.float32)


def test_an_augmented_copy_of_the_query_ranks_first(tmp_path):
    # 20 other BSDS500 test photos plus augmented copies of three queries; each query
    # (in gray) must find its own copy first.
    photos = _bsds("test", 40)
    queries = [p for p in photos if p.stem in ("100007", "117025", "118031")]
    others = photos[1:21]
    folder = tmp_path / "refs"
    folder.mkdir()
    for p in others:
        img = Image.open(p).convert("RGB")
        img.resize((img.width // 3, img.height // 3)).save(folder / f"{p.stem}.png")
    for i, q in enumerate(queries):
        rgb = np.asarray(Image.open(q).convert("RGB"), np.float32) / 255.0
        copy = Image.fromarray((_augment(rgb, i) * 255).astype(np.uint8))
        copy.resize((copy.width // 3, copy.height // 3)).save(folder / f"copy_of_{q.stem}.png")
    out = tmp_path / "refs.index"
    assert idx.build_index(folder, out, progress=False).entries == 23
    for q in queries:
        gray = np.asarray(Image.open(q).convert("L"))
        best = idx.recommend(gray, out, k=3)
        assert best[0].relative_path == f"copy_of_{q.stem}.png", [c.to_dict() for c in best]


def test_descriptors_have_the_documented_shapes():
    d = describe(np.full((50, 70), 40.0, np.float32), get_backbone("efficientnet-lite0-gray"))
    assert d.global_raw.shape == (1280,)  # the head level (the classifier's input)
    assert d.local_raw.shape == (64, 112 + 320)  # f16 and f32 on the 8 x 8 cells
    assert d.histograms.shape == (64, 16)


def _legacy_index(good: Path, out: Path) -> None:
    """``good`` rewritten as an index of format version 1 (the small FeatureNet's)."""

    def edit(header):
        header["format_version"] = 1
        header["feature_extractor"] = {"file": "exemplar-features.onnx", "sha256": "1e2d6e54" * 8}

    _rewrite(good, out, edit)


def test_an_index_of_the_former_feature_net_is_refused_by_name(refs, tmp_path):
    good = tmp_path / "good.index"
    idx.build_index(refs, good, progress=False, on_skip=lambda *a: None)
    old = tmp_path / "old.index"
    _legacy_index(good, old)
    with pytest.raises(idx.ReferenceIndexError) as info:
        idx.load_index(old)
    message = str(info.value)
    assert "old.index" in message
    assert "former small gray feature net exemplar-features.onnx" in message
    assert "sha256 1e2d6e541e2d" in message and "efficientnet-lite0-gray" in message
    assert "--rebuild" in message
    # and through the user-facing paths: reference="auto" and the recommend command
    photo = _photo(7)
    with pytest.raises(idx.ReferenceIndexError, match="former small gray feature net"):
        core.colorize(photo, "exemplar", reference="auto", index=old)
    # updating it in place is refused too; --rebuild replaces it
    with pytest.raises(idx.ReferenceIndexError, match="former small gray feature net"):
        idx.build_index(refs, old, progress=False)
    report = idx.build_index(refs, old, progress=False, rebuild=True, on_skip=lambda *a: None)
    assert report.entries == 5 and idx.load_index(old).feature_extractor["backbone"] == (
        "efficientnet-lite0-gray"
    )


def test_eval_with_reference_mode_auto(refs, tmp_path):
    from colorize_eval.evaluate import evaluate

    out = tmp_path / "refs.index"
    idx.build_index(refs, out, progress=False, on_skip=lambda *a: None)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in (7, 8):
        Image.fromarray(_photo(i)).save(photos / f"t{i}.png")
    report = evaluate(["exemplar"], photos, reference_mode="auto", index=out, progress=False)
    assert not report.failures and report.aggregate()["exemplar"]["images"] == 2
    assert report.settings["index"] == str(out)
    with pytest.raises(ValueError, match="index is needed with reference mode 'auto'"):
        evaluate(["exemplar"], photos, reference_mode="auto", progress=False)
