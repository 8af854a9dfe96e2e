"""The Larsson et al. colorizers (ONNX Runtime only: this module never imports torch).

Each shipped graph ``models/<method>.onnx`` is a hypercolumn head over the shared
ImageNet backbone (``colorize-backbone``, :mod:`core.backbones`; Sec. 3.5): it takes
``lightness`` (N, 1, H, W), CIE L* in [0, 100], and the backbone's levels ``f4 … head``
of that image (named in ``metadata_props["backbone_levels"]``), and returns ``logits``
(N, C, H, W): the dense predictions of the variant's heads (see
:mod:`colorize_larsson.variants`); the heads, their channel slices and their bins are
recorded in the graph's ``metadata_props``. The backbone's features are computed once
per image and shared by every head (and every other method) that colours it. A graph
without ``"backbone"`` metadata (the from-scratch recipes of :mod:`colorize_larsson.train`)
takes ``lightness`` alone.

``predict`` turns the logits into ``core.distributions.Distribution`` objects (hue and
chroma, Lab a and b, or the joint ab grid), optionally transfers them to a reference
histogram (Sec. 3.4) or biases them by a rotated global bias (Sec. 4, Fig. 10), decodes
them with the core's decoders (Sec. 3.3, Table 5) and returns Lab a, b.

Why the method reports Lab chroma for hue/chroma predictions: the network's input
intensity is CIE L* for every variant (the trainer feeds L*), so that the four Table 1
variants see the same input. The decoded hue and chroma are placed on the bicone at
the gray value with that L*, converted to Lab a, b, and the core recombines them with
the full-resolution L* (the lightness correction of App. A.4). The distributions stay
in the ``huechroma`` space (``Prediction.distributions["hue"]``, ``["chroma"]``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from colorize_larsson import MODELS_DIR
from colorize_larsson.variants import VARIANTS, Variant
from core.colorizer import CHROMA_SCALE, Capabilities, Colorizer, Prediction
from core.decoders import FADING_ETA
from core.runtime import OnnxModel

__all__ = [
    "COLORIZERS",
    "DECODERS",
    "TABLE5_DECODERS",
    "TRANSFERS",
    "LarssonColorizer",
    "LarssonHueChroma",
    "LarssonLab",
    "LarssonLabJoint",
    "LarssonLabL2",
]

CITATION = (
    "G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for Automatic "
    "Colorization. ECCV 2016 (arXiv:1603.06668). Hypercolumn heads over an ImageNet "
    "EfficientNet-Lite0 (in place of VGG-16); see colorize_larsson/MODEL_CARD.md."
)

#: The core's decoder names (``core.decoders.decoder_names()``); Table 5 specs also work.
DECODERS = ("mode", "median", "expectation", "sample", "sample-once", "annealed-mean")

#: Rows of Table 5 (hue/chroma inference methods), as ``decoder=`` specs, best last.
TABLE5_DECODERS = (
    "hue=sample,chroma=sample",
    "hue=mode,chroma=mode",
    "expectation",
    "hue=expectation,chroma=expectation+fading",
    "hue=expectation,chroma=median",
    "hue=expectation+fading,chroma=median",
)

#: The shipped default decoding of each variant, chosen on BSDS500 val by the criterion
#: "vivid and right" (MODEL_CARD.md, "Decoding: vivid and right"): decoder, annealed-mean
#: temperature and prior-correction strength (:meth:`LarssonColorizer.rebalance`).
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    # the paper's decoder on histograms corrected part of the way towards uniform over the
    # occupied bins (Zhang et al. 2016, Eq. 4 weights with lambda = 0.5, to the power 0.4),
    # chosen on BSDS500 val and everyday_val@select (MODEL_CARD.md, "Everyday photos"):
    # the binding set is people, where 0.4 gives colourfulness 0.60 at 0.905 x gray's
    # RMSE-alpha-beta (0.5: 0.62 / 0.910; 0.25: 0.58 / 0.900)
    "larsson": {"default_rebalance": 0.4},
}

#: ``transfer=`` values (Sec. 3.4): Eq. 6 on the distributions, or quantile matching.
TRANSFERS = ("energy", "quantile")


def _check_lightness(lightness: np.ndarray) -> np.ndarray:
    lightness = np.asarray(lightness)
    if lightness.ndim != 2 or min(lightness.shape) < 1:
        raise ValueError(f"expected (H, W) lightness, got shape {lightness.shape}")
    return lightness.astype(np.float32, copy=False)


def rebalancing_weights(counts: np.ndarray, lam: float) -> np.ndarray:
    """Zhang et al. 2016, Eq. 4 class-rebalancing weights of bins seen ``counts`` times.

    ``w ∝ ((1 - lam) p + lam / Q)^-1`` with ``p`` the empirical distribution and ``Q`` the
    number of occupied bins, normalised so that ``E_p[w] = 1``; empty bins weigh 0.
    Shared by the training loss (``head.class_weights``) and :meth:`LarssonColorizer.rebalance`.

    Examples
    --------
    >>> rebalancing_weights(np.array([3.0, 1.0, 0.0]), 0.0).round(3)
    array([0.667, 2.   , 0.   ])
    """
    counts = np.asarray(counts, np.float64)
    p = counts / max(counts.sum(), 1.0)
    q = max(int((counts > 0).sum()), 1)
    w = 1.0 / ((1.0 - lam) * p + lam / q)
    w[counts == 0] = 0.0
    return w / max(float((p * w).sum()), 1e-12)


def huechroma_to_ab(lightness: np.ndarray, hue: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Lab a, b (H, W, 2) of bicone hue/chroma placed at the gray with CIE L* ``lightness``.

    The gray's sRGB value is the bicone lightness; chroma beyond the bicone at that
    lightness is clamped (``huechroma_to_rgb(clamp=True)``, Sec. 3.1).
    """
    from core.colorspaces.huechroma import huechroma_to_rgb
    from core.colorspaces.lab import lab_to_rgb, rgb_to_lab

    zeros = np.zeros_like(lightness, dtype=np.float32)
    gray = np.clip(lab_to_rgb(np.stack([lightness, zeros, zeros], -1))[..., 0], 0, 1)
    rgb = huechroma_to_rgb(np.stack([gray, hue, chroma], -1).astype(np.float32), clamp=True)
    return rgb_to_lab(np.clip(rgb, 0, 1).astype(np.float32))[..., 1:]


class LarssonColorizer(Colorizer):
    """Shared inference of the four variants; subclasses set :attr:`variant`."""

    variant: Variant
    #: Temperature of ``annealed-mean`` when the default decoder is used (None: 0.38).
    default_temperature: float | None = None
    #: Strength of the prior correction (:meth:`rebalance`) by default (0: none).
    default_rebalance: float = 0.0
    #: Chromatic-fading threshold (Eq. 5) by default; the paper's cross-validated 0.03.
    default_eta: float = FADING_ETA
    colorspace = "lab"
    working_size = 160
    size_multiple = 32
    citation = CITATION
    vividness = (
        "histograms: prior correction rebalance = default + 0.8 (v - 0.5), at least 0, and "
        "fading eta = 0.03 * 2^(1 - 2v) (decoders without fading: chroma x (0.5 + v) below "
        "0.5); larsson-lab-l2: chroma x (0.5 + v)"
    )

    def __init__(self) -> None:
        self._model = OnnxModel(MODELS_DIR / f"{self.name}.onnx")
        self._bins: dict[str, Any] | None = None

    @classmethod
    def shipped(cls) -> bool:
        """Whether this method's graph is installed."""
        return (MODELS_DIR / f"{cls.name}.onnx").is_file()

    @property
    def model(self) -> OnnxModel:
        return self._model

    def model_files(self) -> tuple:
        """The head's graph and, for heads over the shared backbone, the backbone's."""
        from core.backbones import get_backbone

        files = (self._model.model_file(),)
        name = self._model.metadata_json("backbone") if self._model.path.is_file() else None
        return files if name is None else files + get_backbone(name).model_files()

    # -- graph ------------------------------------------------------------------

    def heads(self) -> list[dict[str, Any]]:
        """The graph's head records: channel, channel slice and bins (``to_dict`` form)."""
        return self._model.metadata_json("heads")

    def bins(self) -> dict[str, Any]:
        """Bins per head channel, read from the graph's metadata (cached)."""
        if self._bins is None:
            from core.binning import Bins, JointBins

            out = {}
            for head in self.heads():
                spec = head.get("bins")
                if spec is None:
                    continue
                out[head["channel"]] = (
                    JointBins.from_dict(spec) if "first" in spec else Bins.from_dict(spec)
                )
            self._bins = out
        return self._bins

    def logits(self, lightness: np.ndarray) -> np.ndarray:
        """Dense logits (C, H, W) for one (H, W) L* image (padded to a multiple of 32).

        The graph is a head over the shared backbone (``metadata_props["backbone"]``):
        the backbone's pyramid comes from :meth:`core.backbones.Backbone.features`,
        computed once per image and shared with every other head that asks.
        """
        from core.backbones import level_feeds

        lightness = _check_lightness(lightness)
        h, w = lightness.shape
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        x = lightness
        if ph or pw:
            x = np.pad(x, ((0, ph), (0, pw)), mode="reflect" if min(h, w) > max(ph, pw) else "edge")
        x = np.ascontiguousarray(x, np.float32)
        # no levels for a self-contained graph (the from-scratch recipes of .train)
        (out,) = self._model.run(lightness=x[None, None], **level_feeds(self._model, x))
        return out[0, :, :h, :w]

    def distributions(self, lightness: np.ndarray) -> dict[str, Any]:
        """Per-pixel histograms keyed by channel (``hue``, ``chroma``, ``a``, ``b`` or ``ab``)."""
        from core.distributions import Distribution

        logits = self.logits(lightness)
        bins = self.bins()
        out = {}
        for head in self.heads():
            channel = head["channel"]
            start, stop = head["slice"]
            values = np.ascontiguousarray(logits[start:stop].transpose(1, 2, 0), np.float32)
            out[channel] = Distribution.from_logits(
                values, bins[channel], self.variant.space, channel
            )
        return out

    # -- options ----------------------------------------------------------------

    def rebalance(self, dists: dict[str, Any], strength: float, lam: float = 0.5) -> dict:
        """Prior-corrected histograms: ``p'(c) ∝ p(c) w(c)^strength`` per head.

        ``w`` are Zhang et al.'s (2016, Eq. 4) rebalancing weights
        ``((1 - lam) p_train + lam / Q)^-1`` (``E[w] = 1``) from the bins' training
        frequencies recorded in the graph (``metadata_props["bin_counts"]``): the decoding
        counterpart of their training-time rebalancing. ``strength`` 0 changes nothing;
        larger values favour the rarer, more saturated colours.

        Raises
        ------
        ValueError
            If the graph records no bin frequencies.
        """
        from core.distributions import Distribution

        counts = self._model.metadata_json("bin_counts")
        if counts is None:
            raise ValueError(f"{self.name}: this graph records no bin frequencies to rebalance")
        out = dict(dists)
        for channel, values in counts.items():
            if channel not in out:
                continue
            c = np.asarray(values, np.float64)
            w = np.where(c > 0, rebalancing_weights(c, lam), 1e-6)
            dist = out[channel]
            factor = (w**strength).reshape(dist.probs.shape[2:]).astype(np.float32)
            probs = dist.probs * factor
            probs /= probs.sum(axis=tuple(range(2, probs.ndim)), keepdims=True)
            out[channel] = Distribution(probs, dist.bins, dist.colorspace, dist.channel)
        return out

    def vividness_options(self, vividness: float, *, decoder: str | None = None) -> dict[str, Any]:
        """``vividness`` as this method's decoding knobs (:meth:`core.Colorizer.vividness_options`).

        The prior correction :meth:`rebalance` (favours rarer, more saturated colours) is
        the default's strength plus ``0.8 (v - 0.5)``, at least 0 (0 to 0.8 for ``larsson``'s
        default decoding); chromatic fading (Eq. 5) gets ``eta = 0.03 * 2^(1 - 2v)``, 0.06
        to 0.015 (a larger eta fades more of the uncertain pixels to gray). With a decoder
        without fading, vividness below 0.5 scales the chroma by ``0.5 + v`` instead; the
        regression variant (no histograms) only scales it. ``v = 0.5`` gives the default
        options exactly (MODEL_CARD.md, "Vividness").
        """
        if not self.variant.histogram:
            return super().vividness_options(vividness, decoder=decoder)
        base = self.default_rebalance if decoder is None else 0.0
        out: dict[str, Any] = {"rebalance": max(0.0, base + 0.8 * (vividness - 0.5))}
        if "fading" in (decoder or self.default_decoder or ""):
            out["eta"] = self.default_eta * 2.0 ** (1.0 - 2.0 * vividness)
        elif vividness < 0.5:
            out[CHROMA_SCALE] = 0.5 + vividness
        return out

    def _rotate(self, dists: dict[str, Any], angle_deg: float, strength: float) -> dict:
        from core.transfer import apply_bias, rotated_bias

        angle = math.radians(float(angle_deg))
        dists = dict(dists)
        if "hue" in dists:
            dists["hue"] = apply_bias(
                dists["hue"], rotated_bias(dists["hue"].bins, angle, strength)
            )
        elif "ab" in dists:
            dists["ab"] = apply_bias(dists["ab"], rotated_bias(dists["ab"].bins, angle, strength))
        else:
            ba, bb = rotated_bias(
                (dists["a"].bins, dists["b"].bins), angle, strength, marginal=True
            )
            dists["a"], dists["b"] = apply_bias(dists["a"], ba), apply_bias(dists["b"], bb)
        return dists

    def _decode(self, lightness, dists, decoder, seed, temperature=None,
                eta=None) -> np.ndarray:
        from core.decoders import decode_prediction

        spec = decoder or self.default_decoder
        if temperature is None and decoder is None:
            temperature = self.default_temperature
        if eta is None:
            eta = self.default_eta
        kwargs = {"seed": seed, "temperature": temperature, "eta": eta}
        if self.variant.space == "huechroma":
            hc = decode_prediction(dists, channels=("hue", "chroma"), decoder=spec, **kwargs)
            return huechroma_to_ab(lightness, hc[..., 0], hc[..., 1])
        return decode_prediction(dists, channels=("a", "b"), decoder=spec, **kwargs)

    def predict(
        self,
        lightness: np.ndarray,
        *,
        reference: np.ndarray | None = None,
        seed: int | None = None,
        decoder: str | None = None,
        transfer: str | None = None,
        target_histogram: Any = None,
        transfer_weight: float = 10.0,
        rotate: float | None = None,
        rotate_strength: float = 1.0,
        temperature: float | None = None,
        rebalance: float | None = None,
        eta: float | None = None,
        **options: Any,
    ) -> Prediction:
        """Colorize one working-resolution L* image.

        Parameters
        ----------
        lightness : ndarray (h, w) float32
            CIE L* in [0, 100] (the core's Lab lightness).
        reference : ndarray (hr, wr, 3), optional
            Colour image whose histogram the output should take (Sec. 3.4, Table 4).
        seed : int, optional
            For the sampling decoders.
        decoder : str, optional
            A decoder name or a per-channel spec (Table 5 rows: :data:`TABLE5_DECODERS`);
            default :attr:`default_decoder` (hue: expectation + chromatic fading, chroma:
            median for ``larsson``; expectation for the Lab histograms).
        transfer : {"energy", "quantile"}, optional
            How to use ``reference`` / ``target_histogram``: energy minimisation of the
            predicted distributions (Eq. 6; the default for histogram variants) or
            lightness-normalised quantile matching of the decoded image (the only one
            for ``larsson-lab-l2``).
        target_histogram : ndarray or dict, optional
            Target histogram(s) over this method's bins, keyed by channel (``{"hue": ...,
            "chroma": ...}``); energy transfer only.
        transfer_weight : float
            lambda of Eq. 6 (default 10).
        rotate : float, optional
            Angle in degrees of a global "rotated" bias (Sec. 4, Fig. 10) for diverse
            colorizations: hue angle for ``larsson``, direction in the (a, b) plane for Lab.
        rotate_strength : float
            Amplitude of that bias in log-probability units.
        temperature : float, optional
            Temperature of the ``annealed-mean`` decoder (Zhang et al. 2016; default
            :attr:`default_temperature` with the default decoder, else 0.38).
        rebalance : float, optional
            Strength of the prior correction :meth:`rebalance` applied to the histograms
            before decoding (default :attr:`default_rebalance`; 0 turns it off).
        eta : float, optional
            Threshold of chromatic fading (Larsson Eq. 5: chroma times
            ``min(|z| / eta, 1)``, ``|z|`` the hue concentration), for decoders with
            ``+fading`` (default :attr:`default_eta`). Larger values pull more of the
            uncertain pixels towards gray.

        Raises
        ------
        TypeError
            On unknown options.
        ValueError
            On an unknown transfer, or an option the variant cannot honour.
        """
        from core.distributions import uncertainty_map
        from core.transfer import energy_minimisation, quantile_matching

        if options:
            raise TypeError(
                f"{self.name}: unknown option(s) {', '.join(sorted(options))}; accepted: "
                "transfer, target_histogram, transfer_weight, rotate, rotate_strength, "
                "temperature, rebalance, eta"
            )
        if transfer is not None and transfer not in TRANSFERS:
            raise ValueError(f"{self.name}: transfer must be one of {TRANSFERS}, got {transfer!r}")
        lightness = _check_lightness(lightness)
        histogram = self.variant.histogram
        if decoder is not None and not histogram:
            raise ValueError(f"{self.name} regresses a, b directly and takes no decoder")
        has_target = reference is not None or target_histogram is not None
        if transfer is not None and not has_target:
            raise ValueError(
                f"{self.name}: transfer={transfer!r} needs reference= (a colour image) "
                "or target_histogram="
            )
        mode = (transfer or ("energy" if histogram else "quantile")) if has_target else None
        if mode == "energy" and not histogram:
            raise ValueError(f"{self.name} predicts no histograms; use transfer='quantile'")
        if mode == "quantile" and reference is None:
            raise ValueError("quantile matching needs a reference image (reference=...)")
        if rebalance and not histogram:
            raise ValueError(f"{self.name} predicts no histograms to rebalance")
        if eta is not None and not eta > 0:
            raise ValueError(f"{self.name}: eta must be positive, got {eta}")
        if rotate is not None and not histogram:
            raise ValueError(f"{self.name} predicts no histograms to rotate")
        extras: dict[str, Any] = {"transfer": mode, "rotate": rotate}

        if not histogram:
            ab = self.logits(lightness).transpose(1, 2, 0) * 100.0
            dists: dict[str, Any] = {}
            uncertainty = None
        else:
            dists = self.distributions(lightness)
            uncertainty = np.asarray(uncertainty_map(dists), np.float32)
            if rebalance is not None:
                strength = float(rebalance)
            else:  # part of the default decoding setting, like its temperature
                strength = self.default_rebalance if decoder is None else 0.0
            if strength:
                dists = self.rebalance(dists, strength)
            extras["rebalance"] = strength
            if mode == "energy":
                target = target_histogram if target_histogram is not None else reference
                dists = energy_minimisation(dists, target, weight=transfer_weight)
            if rotate is not None:
                dists = self._rotate(dists, rotate, rotate_strength)
            ab = self._decode(lightness, dists, decoder, seed, temperature, eta)
        if mode == "quantile":
            from core.colorspaces.lab import lab_to_rgb, rgb_to_lab

            rgb = np.clip(lab_to_rgb(np.concatenate([lightness[..., None], ab], -1)), 0, 1)
            ab = rgb_to_lab(quantile_matching(rgb.astype(np.float32), reference))[..., 1:]
        return Prediction(
            chroma=np.ascontiguousarray(ab, np.float32),
            distributions=dists,
            uncertainty=uncertainty,
            extras=extras,
        )


def _make(variant_name: str, doc: str) -> type[LarssonColorizer]:
    variant = VARIANTS[variant_name]
    attrs = {
        "__doc__": doc,
        "name": variant.name,
        "variant": variant,
        "description": variant.description,
        "capabilities": Capabilities(
            automatic=True, reference=True, distribution=variant.histogram
        ),
        "decoders": DECODERS if variant.histogram else (),
        "default_decoder": variant.default_decoder,
        **DEFAULT_SETTINGS.get(variant_name, {}),
    }
    return type(
        "Larsson" + "".join(p.title() for p in variant_name.split("-")[1:]) or "Larsson",
        (LarssonColorizer,),
        attrs,
    )


LarssonHueChroma = _make("larsson", "Hue/chroma histograms with the Eq. 3 loss (the paper's best).")
LarssonLab = _make("larsson-lab", "Lab a and b marginal histograms (K = 32 Gaussian quantiles).")
LarssonLabJoint = _make("larsson-lab-joint", "Joint 16 x 16 Lab (a, b) histogram.")
LarssonLabL2 = _make("larsson-lab-l2", "Lab a, b L2 regression (Eq. 1).")

#: Every variant, shipped or not (the plugin registers the shipped ones).
COLORIZERS = (LarssonHueChroma, LarssonLab, LarssonLabJoint, LarssonLabL2)
