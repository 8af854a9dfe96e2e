"""The ``exemplar`` colorizer (ONNX Runtime and numpy only: never imports torch).

Pipeline for a target lightness T_L at the working shape (h, w), both multiples of 16:

1. the reference (sRGB) is resized to the working shape rule (short side 64), converted to
   Lab; T_L and R_L go through ``exemplar-features.onnx``, which returns five feature
   levels on the 1/4 grid;
2. the matcher named by the ``matcher=`` option (default ``"exemplar-nn"``, cosine
   nearest neighbours), looked up in the core's registry among the transfers with
   ``operates_on="features"``, gives phi_T->R and phi_R->T from the two pyramids;
   :func:`colorize_exemplar.matching.similarity_maps` gives the similarity maps
   sim_T<->R (Eqs. 1-2); the reference chrominance, area-averaged onto the reference
   grid, is warped to the target grid: R'_ab(p) = R_ab(phi_T->R(p));
3. R'_ab and the ten similarity maps are upsampled bilinearly to (h, w) and, with T_L,
   fed to ``exemplar-colornet.onnx`` (the colorization sub-net C), which returns ab.

With ``reference="auto"`` and ``index=`` a reference index file, the core first asks
:meth:`ExemplarColorizer.recommend_reference` for the top-1 recommendation of §4
(:mod:`colorize_exemplar.index`, :mod:`colorize_exemplar.recommend`).

Any plugin can add a matcher (for example PatchMatch): register a
``core.transfer.Transfer(name, function, operates_on="features")`` in its
``register_transfers`` hook; the contract of ``function`` is in
:mod:`colorize_exemplar.matching`. Users pick it with
``core.colorize(img, "exemplar", reference=R, matcher=name)``.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from colorize_exemplar import MODELS_DIR
from colorize_exemplar.matching import (
    DEFAULT_MATCHER,
    Correspondence,
    check_mappings,
    get_matcher,
    similarity_maps,
    warp,
)
from core.colorizer import Capabilities, Colorizer, Prediction
from core.colorspaces.lab import rgb_to_lab
from core.errors import CapabilityError
from core.runtime import OnnxModel

__all__ = ["ExemplarColorizer"]

AB_SCALE = 110.0
GRID = 4


class ExemplarColorizer(Colorizer):
    """Deep exemplar-based colorization, scaled down (see MODEL_CARD.md)."""

    name = "exemplar"
    description = (
        "Exemplar-based colorization: cosine nearest-neighbour matching on a small gray "
        "feature pyramid, then a U-Net that selects and propagates reference colours"
    )
    citation = (
        "He, Chen, Liao, Sander, Yuan. Deep Exemplar-based Colorization. ACM Transactions on "
        "Graphics 37(4), SIGGRAPH 2018. Scaled-down reimplementation, see MODEL_CARD.md"
    )
    capabilities = Capabilities(automatic=False, reference=True, recommend=True)
    colorspace = "lab"
    working_size = 64
    size_multiple = 16

    def __init__(self) -> None:
        self._features = OnnxModel(MODELS_DIR / "exemplar-features.onnx")
        self._colornet = OnnxModel(MODELS_DIR / "exemplar-colornet.onnx")

    def model_files(self) -> tuple:
        return (self._features.model_file(), self._colornet.model_file())

    def pyramid(self, lightness: np.ndarray) -> list[np.ndarray]:
        """Five feature levels (C_i, h/4, w/4) of an (h, w) L* image, h and w multiples of 16."""
        x = np.ascontiguousarray(lightness, dtype=np.float32)[None, None]
        return [level[0] for level in self._features.run(lightness=x)]

    def recommend_reference(
        self, lightness: np.ndarray, *, index: Any = None, **options: Any
    ) -> Any:
        """Path of the top-1 recommended reference for a target (He et al. 2018, §4).

        Parameters
        ----------
        lightness : ndarray (H, W) float32
            The target's L* (0..100) at full resolution.
        index : path
            A reference index file (``colorize index build REFS_DIR -o FILE``).

        Raises
        ------
        core.errors.CapabilityError
            No ``index`` was given.
        colorize_exemplar.index.ReferenceIndexError
            The index cannot be used (missing, corrupted, another version or feature
            extractor) or its top-1 image is gone.
        """
        from colorize_exemplar.index import cached_index

        if options:
            raise TypeError(
                f"{self.name}: unknown option(s) {', '.join(sorted(options))} for recommendation"
            )
        if index is None:
            raise CapabilityError(
                f"{self.name}: reference='auto' needs index=PATH, a reference index built with "
                "`colorize index build REFS_DIR -o PATH`"
            )
        ref_index = cached_index(index)
        (best,) = ref_index.query(np.asarray(lightness, np.float32), self.pyramid, k=1)
        return ref_index.resolve(best.relative_path)

    def reference_lab(self, reference: np.ndarray) -> np.ndarray:
        """The reference resized to its working shape, as Lab (hr, wr, 3) float32."""
        reference = np.asarray(reference, np.float32)
        if reference.ndim != 3 or reference.shape[-1] != 3:
            raise ValueError(f"expected (H, W, 3) reference image, got shape {reference.shape}")
        hr, wr = self.working_shape(*reference.shape[:2])
        small = cv2.resize(np.clip(reference, 0, 1), (wr, hr), interpolation=cv2.INTER_AREA)
        return rgb_to_lab(small.astype(np.float32))

    def align(
        self, lightness: np.ndarray, reference_lab: np.ndarray, *, matcher: str = DEFAULT_MATCHER
    ) -> tuple[np.ndarray, Correspondence]:
        """C's 13-channel input (13, h, w) and the coarse correspondence.

        Parameters
        ----------
        lightness : ndarray (h, w) float32
            T_L (0..100), h and w multiples of 16.
        reference_lab : ndarray (hr, wr, 3) float32
            The reference at its working shape (:meth:`reference_lab`).
        matcher : str, default "exemplar-nn"
            Name of a registered matcher (see :mod:`colorize_exemplar.matching`).

        Raises
        ------
        colorize_exemplar.matching.UnknownMatcherError
            No matcher of that name is installed (the message lists them).
        ValueError
            The matcher returned something else than two valid mappings.
        """
        find = get_matcher(matcher)
        h, w = lightness.shape
        target = self.pyramid(lightness)
        reference = self.pyramid(reference_lab[..., 0])
        coarse = (h // GRID, w // GRID)
        t2r, r2t = check_mappings(
            find(target, reference), target[0].shape[-2:], reference[0].shape[-2:], name=matcher
        )
        match = similarity_maps(target, reference, t2r, r2t)
        hr, wr = reference_lab.shape[:2]
        ab_grid = cv2.resize(
            reference_lab[..., 1:], (wr // GRID, hr // GRID), interpolation=cv2.INTER_AREA
        )
        warped = warp(ab_grid, match.target_to_reference, coarse)
        maps = np.concatenate(
            [
                warped / AB_SCALE,
                match.forward.transpose(1, 2, 0),
                match.backward.transpose(1, 2, 0),
            ],
            axis=-1,
        ).astype(np.float32)
        up = cv2.resize(maps, (w, h), interpolation=cv2.INTER_LINEAR)
        x = np.concatenate([(lightness / 50.0 - 1.0)[..., None], up], axis=-1)
        return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32), match

    def predict(
        self,
        lightness: np.ndarray,
        *,
        reference: np.ndarray | None = None,
        seed: int | None = None,
        decoder: str | None = None,
        matcher: str = DEFAULT_MATCHER,
        **options: Any,
    ) -> Prediction:
        """Colorize T_L from the reference; ``matcher`` names the dense-correspondence matcher.

        ``extras`` holds ``mean_similarity`` (mean of the ten similarity maps) and
        ``matcher``.
        """
        if options:
            raise TypeError(
                f"{self.name}: unknown option(s) {', '.join(sorted(options))}; "
                "it takes matcher= only"
            )
        get_matcher(matcher)  # fail early, before any network runs
        if decoder is not None:
            raise ValueError(f"{self.name}: takes no decoder, got {decoder!r}")
        if reference is None:
            raise ValueError(f"{self.name}: needs a colour reference image (reference=...)")
        lightness = np.asarray(lightness, np.float32)
        if lightness.ndim != 2:
            raise ValueError(f"expected (H, W) lightness, got shape {lightness.shape}")
        h, w = lightness.shape
        ph, pw = (-h) % self.size_multiple, (-w) % self.size_multiple
        padded = np.pad(lightness, ((0, ph), (0, pw)), mode="edge") if ph or pw else lightness
        x, match = self.align(padded, self.reference_lab(reference), matcher=matcher)
        (ab,) = self._colornet.run(inputs=x[None])
        chroma = ab[0].transpose(1, 2, 0)[:h, :w]
        similarity = 0.5 * (match.forward.mean(0) + match.backward.mean(0))
        return Prediction(
            chroma=np.ascontiguousarray(chroma, dtype=np.float32),
            extras={"mean_similarity": float(similarity.mean()), "matcher": matcher},
        )
