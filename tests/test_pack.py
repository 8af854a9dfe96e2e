"""Photo packs for GPU rounds (training.pack): budget, source shares, round trip, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from training.pack import build_pack, load_pack, main


def _photos(folder, count, seed, size=(60, 90), same=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"{i}.png"
        if same:
            rng = np.random.default_rng(seed)
        # smooth colour gradients: small, realistic JPEGs
        y, x = np.mgrid[: size[0], : size[1]]
        rgb = np.stack([x * 2 + rng.integers(0, 60), y * 3 + rng.integers(0, 60),
                        np.full_like(x, rng.integers(0, 255))], axis=-1)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def test_pack_round_trip_keeps_photos_and_sources(tmp_path):
    groups = {"big": _photos(tmp_path / "big", 16, 0), "small": _photos(tmp_path / "small", 4, 1)}
    summary = build_pack(groups, tmp_path / "p.npz", short_side=40, max_bytes=10**7)
    assert summary["photos"] == 20 and summary["per_source"] == {"big": 16, "small": 4}
    images, sources, stored = load_pack(tmp_path / "p.npz")
    assert stored == summary and len(images) == 20 and sorted(set(sources)) == ["big", "small"]
    # short side 40 (60 x 90 -> 40 x 60), RGB order kept: the red ramp grows along x
    assert all(img.shape == (40, 60, 3) and img.dtype == np.uint8 for img in images)
    first = images[0].astype(int)
    assert first[:, -5:, 0].mean() > first[:, :5, 0].mean()
    smaller, _, _ = load_pack(tmp_path / "p.npz", short_side=20)
    assert smaller[0].shape == (20, 30, 3)


def test_pack_budget_keeps_sqrt_shares(tmp_path):
    """Under a byte budget each source advances with sqrt(its size): 16 vs 4 photos -> 2:1."""
    groups = {"big": _photos(tmp_path / "big", 16, 0, same=True),
              "small": _photos(tmp_path / "small", 4, 0, same=True)}
    one = build_pack({"big": groups["big"][:1]}, tmp_path / "one.npz", short_side=40)["bytes"]
    summary = build_pack(groups, tmp_path / "p.npz", short_side=40, max_bytes=int(one * 6.5))
    assert summary["bytes"] <= int(one * 6.5)
    counts = summary["per_source"]
    assert counts["big"] == 2 * counts["small"] and sum(counts.values()) == 6
    equal = build_pack(groups, tmp_path / "q.npz", short_side=40, max_bytes=int(one * 6.5),
                       weighting="equal")["per_source"]
    assert equal["big"] == equal["small"] == 3


def test_pack_skips_gray_and_corrupt_photos(tmp_path):
    good = _photos(tmp_path / "a", 2, 0)
    gray = tmp_path / "a" / "gray.png"
    Image.fromarray(np.full((30, 30, 3), 128, np.uint8)).save(gray)
    broken = tmp_path / "a" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    summary = build_pack({"a": [*good, gray, broken]}, tmp_path / "p.npz")
    assert summary["photos"] == 2 and summary["skipped"] == 2
    with pytest.raises(ValueError, match="no readable colour photo"):
        build_pack({"a": [gray, broken]}, tmp_path / "none.npz")
    assert not (tmp_path / "none.npz").exists()


def test_load_pack_names_the_bad_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nothing")
    with pytest.raises(ValueError, match="bad.npz: not a photo pack"):
        load_pack(bad)
    other = tmp_path / "other.npz"
    np.savez(other, data=np.zeros(1, np.uint8), offsets=np.zeros(1, np.int64),
             source=np.zeros(0, np.int16), names=np.array(["x"]),
             summary=np.array(json.dumps({"format": "something-else"})))
    with pytest.raises(ValueError, match="other.npz: pack format 'something-else'"):
        load_pack(other)


def test_pack_cli(tmp_path, capsys):
    extra = tmp_path / "extra"
    _photos(extra / "people", 3, 2)
    (extra / "people.txt").write_text("\n".join(f"people/{i}.png" for i in range(3)))
    assert main([str(tmp_path / "p.npz"), "--extra", str(extra), "--short-side", "32"]) == 0
    assert json.loads(capsys.readouterr().out)["per_source"] == {"extra/people": 3}
    with pytest.raises(SystemExit):
        main([str(tmp_path / "q.npz"), "--data", str(tmp_path / "missing")])
    assert "missing: no such folder" in capsys.readouterr().err
