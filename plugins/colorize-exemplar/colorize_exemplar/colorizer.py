"""The ``exemplar`` colorizer (ONNX Runtime and numpy only: never imports torch).

Pipeline for a target lightness T_L at the working shape (h, w), both multiples of 32:

1. the reference (sRGB) is resized to the working shape rule (short side 128), converted
   to Lab; T_L and R_L go through the shared gray ImageNet backbone
   (``efficientnet-lite0-gray`` of ``colorize-backbone``, :mod:`colorize_exemplar.features`),
   whose levels ``f2 … f32`` (one per stride) are resampled to the 1/4 grid;
2. the matcher named by the ``matcher=`` option (default ``"exemplar-nn"``, cosine
   nearest neighbours), looked up in the core's registry among the transfers with
   ``operates_on="features"``, gives phi_T->R and phi_R->T from the two pyramids;
   :func:`colorize_exemplar.matching.similarity_maps` gives the similarity maps
   sim_T<->R (Eqs. 1-2); the reference chrominance, area-averaged onto the reference
   grid, is warped to the target grid: R'_ab(p) = R_ab(phi_T->R(p));
3. R'_ab and the ten similarity maps are upsampled bilinearly to (h / 2, w / 2) and, with
   T_L area-averaged to that size, fed to ``exemplar-colornet.onnx`` (the colorization
   sub-net C, run at half the working resolution), whose ab is upsampled to (h, w).

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
from colorize_exemplar import features as backbone_features
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
GRID = backbone_features.GRID_STRIDE
#: C runs at 1/C_SCALE of the working resolution (its inputs are on the 1/4 grid anyway).
C_SCALE = 2


class ExemplarColorizer(Colorizer):
    """Deep exemplar-based colorization, scaled down (see MODEL_CARD.md)."""

    name = "exemplar"
    description = (
        "Exemplar-based colorization: cosine nearest-neighbour matching on the gray ImageNet "
        "backbone's pyramid, then a U-Net that selects and propagates reference colours"
    )
    citation = (
        "He, Chen, Liao, Sander, Yuan. Deep Exemplar-based Colorization. ACM Transactions on "
        "Graphics 37(4), SIGGRAPH 2018. Scaled-down reimplementation, see MODEL_CARD.md"
    )
    capabilities = Capabilities(automatic=False, reference=True, recommend=True)
    colorspace = "lab"
    working_size = 128
    size_multiple = 32

    def __init__(self) -> None:
        self._colornet = OnnxModel(MODELS_DIR / "exemplar-colornet.onnx")

    def model_files(self) -> tuple:
        return (self._colornet.model_file(), *backbone_features.get().model_files())

    def pyramid(self, lightness: np.ndarray) -> list[np.ndarray]:
        """Five matching levels (C_i, h/4, w/4) of an (h, w) L* image, h and w multiples of 32.

        The gray backbone's ``f2 … f32`` on the 1/4 grid
        (:func:`colorize_exemplar.features.pyramid`; the backbone pass is cached per image).
        """
        return backbone_features.pyramid(lightness)

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
        (best,) = ref_index.query(np.asarray(lightness, np.float32), k=1)
        return ref_index.resolve(best.relative_path)

    def reference_lab(self, reference: np.ndarray) -> np.ndarray:
        """The reference resized to its working shape, as Lab (hr, wr, 3) float32."""
        reference = np.asarray(reference, np.float32)
        if reference.ndim != 3 or reference.shape[-1] != 3:
            raise ValueError(f"expected (H, W, 3) reference image, got shape {reference.shape}")
        hr, wr = self.working_shape(*reference.shape[:2])
        small = cv2.resize(np.clip(reference, 0, 1), (wr, hr), interpolation=cv2.INTER_AREA)
        return rgb_to_lab(small.astype(np.float32))

    def coarse_inputs(
        self, lightness: np.ndarray, reference_lab: np.ndarray, *, matcher: str = DEFAULT_MATCHER
    ) -> tuple[np.ndarray, Correspondence]:
        """C's inputs on the matching grid: R'_ab / 110 and the ten similarity maps.

        Parameters
        ----------
        lightness : ndarray (h, w) float32
            T_L (0..100), h and w multiples of 32.
        reference_lab : ndarray (hr, wr, 3) float32
            The reference at its working shape (:meth:`reference_lab`).
        matcher : str, default "exemplar-nn"
            Name of a registered matcher (see :mod:`colorize_exemplar.matching`).

        Returns
        -------
        maps : ndarray (12, h / 4, w / 4) float32
            R'_ab(p) = R_ab(phi_T->R(p)) (Eq. 1's mapping; reference ab area-averaged to
            its grid) divided by :data:`AB_SCALE`, then sim_T->R and sim_R->T of the five
            levels (Eqs. 1-2). The training cache (:mod:`colorize_exemplar.train`) stores
            exactly these maps.
        match : Correspondence

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
            [warped.transpose(2, 0, 1) / AB_SCALE, match.forward, match.backward], axis=0
        )
        return np.ascontiguousarray(maps, dtype=np.float32), match

    def align(
        self, lightness: np.ndarray, reference_lab: np.ndarray, *, matcher: str = DEFAULT_MATCHER
    ) -> tuple[np.ndarray, Correspondence]:
        """C's 13-channel input (13, h / 2, w / 2) and the coarse correspondence.

        C runs at half the working resolution (:data:`C_SCALE`): T_L area-averaged
        2 x 2, then / 50 - 1, and :meth:`coarse_inputs` upsampled bilinearly 2x.
        Parameters and errors as :meth:`coarse_inputs`.
        """
        maps, match = self.coarse_inputs(lightness, reference_lab, matcher=matcher)
        h, w = lightness.shape
        hc, wc = h // C_SCALE, w // C_SCALE
        up = cv2.resize(
            np.ascontiguousarray(maps.transpose(1, 2, 0)), (wc, hc), interpolation=cv2.INTER_LINEAR
        )
        small = cv2.resize(lightness, (wc, hc), interpolation=cv2.INTER_AREA)
        x = np.concatenate([(small / 50.0 - 1.0)[..., None], up], axis=-1)
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
        full = cv2.resize(
            np.ascontiguousarray(ab[0].transpose(1, 2, 0)),
            (padded.shape[1], padded.shape[0]),
            interpolation=cv2.INTER_LINEAR,
        )
        chroma = full[:h, :w]
        similarity = 0.5 * (match.forward.mean(0) + match.backward.mean(0))
        return Prediction(
            chroma=np.ascontiguousarray(chroma, dtype=np.float32),
            extras={"mean_similarity": float(similarity.mean()), "matcher": matcher},
        )
