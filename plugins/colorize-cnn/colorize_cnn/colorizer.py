"""The CNN loss-study colorizers (ONNX Runtime only: this module never imports torch).

Each shipped graph ``models/<method>.onnx`` takes ``lightness`` (N, 1, H, W)
in Lab L units and returns either ``chroma`` (N, 2, H, W) Lab a, b (regression
heads) or ``logits`` (N, 2, K, H, W) over K uniform bins per channel
(classification head). H and W must be multiples of 4 (32 for ``cnn-gan``'s
U-Net); other sizes are padded by reflection and cropped back. The graph's
``metadata_props`` (written by ``colorize export``) hold the colour space,
working size and bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colorize_cnn import MODELS_DIR
from core.colorizer import Capabilities, Colorizer, Prediction
from core.runtime import OnnxModel

__all__ = [
    "CNNClassification",
    "CNNColorizer",
    "CNNGan",
    "CNNRegression",
    "CNNSmoothL1",
    "COLORIZERS",
]

CITATION = (
    "Automatic colorization with deep CNNs: a study of loss functions (L2, smooth L1, "
    "L2 with dropout, cross-entropy over 10 uniform ab bins) with a 9-layer CNN on 64x64 "
    "Lab lightness; the report's CGAN code is at github.com/sawhney-kartik/gan-colorization. "
    "See colorize_cnn/MODEL_CARD.md for what this plugin changes."
)

#: The core's decoder names (``core.decoders.decoder_names()``).
DECODERS = ("mode", "median", "expectation", "sample", "sample-once", "annealed-mean")


def _check_lightness(lightness: np.ndarray) -> np.ndarray:
    lightness = np.asarray(lightness)
    if lightness.ndim != 2 or min(lightness.shape) < 1:
        raise ValueError(f"expected (H, W) lightness, got shape {lightness.shape}")
    return lightness.astype(np.float32, copy=False)


class CNNColorizer(Colorizer):
    """Shared inference of the three variants; subclasses set the name and head."""

    colorspace = "lab"
    working_size = 64
    size_multiple = 4
    square = False
    citation = CITATION
    #: Output stride of the network: inputs are padded to a multiple of it.
    stride = 4
    #: Options :meth:`predict` takes (named in the error for unknown ones).
    accepted_options: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._model = OnnxModel(MODELS_DIR / f"{self.name}.onnx")

    @classmethod
    def shipped(cls) -> bool:
        """Whether this method's graph is installed."""
        return (MODELS_DIR / f"{cls.name}.onnx").is_file()

    @property
    def model(self) -> OnnxModel:
        return self._model

    def model_files(self) -> tuple:
        return (self._model.model_file(),)

    def _run(self, lightness: np.ndarray) -> np.ndarray:
        """Run the graph on one (H, W) image; returns the output without the batch axis."""
        h, w = lightness.shape
        ph, pw = (-h) % self.stride, (-w) % self.stride
        x = lightness
        if ph or pw:
            x = np.pad(x, ((0, ph), (0, pw)), mode="reflect" if min(h, w) > 1 else "edge")
        (out,) = self._model.run(lightness=np.ascontiguousarray(x[None, None]))
        return out[0, ..., :h, :w]

    def _check_call(self, decoder: str | None, options: dict[str, Any]) -> None:
        if options:
            raise TypeError(
                f"{self.name}: unknown option(s) {', '.join(sorted(options))}; accepted: "
                + (", ".join(self.accepted_options) or "none")
            )
        if decoder is not None and not self.decoders:
            raise ValueError(
                f"{self.name} predicts chroma directly and takes no decoder (got {decoder!r}); "
                "cnn-classification has decoders"
            )


class CNNRegression(CNNColorizer):
    """L2 regression onto Lab a, b (the report's 'L2 loss' model)."""

    name = "cnn-regression"
    description = (
        "9-layer CNN regressing Lab a,b with an L2 loss (loss-study report); fast, muted colours"
    )
    capabilities = Capabilities(automatic=True)

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        self._check_call(decoder, options)
        chroma = self._run(_check_lightness(lightness))
        return Prediction(chroma=np.ascontiguousarray(chroma.transpose(1, 2, 0), np.float32))


class CNNSmoothL1(CNNRegression):
    """Smooth-L1 regression onto Lab a, b (report section 4.2.4)."""

    name = "cnn-smoothl1"
    description = "9-layer CNN regressing Lab a,b with a smooth L1 loss (loss-study report)"


class CNNClassification(CNNColorizer):
    """Cross-entropy over 10 uniform a and b bins; the report's best model.

    Returns per-channel distributions (``"a"``, ``"b"``) and an uncertainty map;
    decoded by the core's decoders, ``"mode"`` by default as in the report. Option
    ``temperature``: the annealed mean's (Zhang et al. 2016, Sec. 2.2); with the default
    decoder it decodes with the annealed mean instead of the mode.
    """

    name = "cnn-classification"
    description = (
        "9-layer CNN classifying Lab a and b into 10 bins each (cross-entropy; the report's "
        "best model); returns per-pixel distributions"
    )
    capabilities = Capabilities(automatic=True, distribution=True)
    decoders = DECODERS
    default_decoder = "mode"
    accepted_options = ("temperature",)
    vividness = (
        "below 0.5: chroma x (0.5 + v); above: the annealed mean at temperature 2 (v - 0.5) "
        "in place of the mode (towards 1: the expectation, this model's most colourful "
        "decoding); with a decoder given: chroma x (0.5 + v)"
    )

    def vividness_options(self, vividness: float, *, decoder: str | None = None) -> dict:
        """``vividness`` above 0.5 as the annealed-mean temperature ``2 (v - 0.5)``.

        The annealed mean goes from the mode (T -> 0, the default decoding) to the
        expectation (T = 1), which is the more colourful here: the mode is the central bin
        wherever the a or b histogram is wide (MODEL_CARD.md, "Vividness"). Below 0.5, or
        with a ``decoder`` given, the core's chroma scale ``0.5 + v``.
        """
        if decoder is not None or vividness <= 0.5:
            return super().vividness_options(vividness, decoder=decoder)
        return {"temperature": 2.0 * (vividness - 0.5)}

    def bins(self, channel: str = "a"):
        """The ``channel``'s bins recorded in the graph's metadata (``core.binning.Bins``).

        Edges are the report's (10 of width 20 over [-100, 100]); the centres are the
        training-set mean of each bin when the graph records them (the report's
        ``unbin``), else the midpoints.
        """
        from core.binning import Bins, uniform_bins

        spec = self._model.metadata_json("bins")
        bins = uniform_bins(
            float(spec["low"]), float(spec["high"]), int(spec["count"]), name=f"cnn-{channel}"
        )
        centers = (spec.get("centers") or {}).get(channel)
        if centers is None:
            return bins
        return Bins(bins.edges, np.asarray(centers, np.float64), name=f"cnn-{channel}-means")

    def predict(
        self, lightness, *, reference=None, seed=None, decoder=None, temperature=None, **options
    ):
        from core.decoders import decode_prediction
        from core.distributions import Distribution, uncertainty_map

        self._check_call(decoder, options)
        if temperature is not None:
            if isinstance(temperature, bool) or not (
                isinstance(temperature, (int, float)) and temperature > 0
            ):
                raise ValueError(f"{self.name}: temperature must be positive, got {temperature!r}")
            if decoder not in (None, "annealed-mean"):
                raise ValueError(
                    f"{self.name}: temperature is the annealed mean's; decoder {decoder!r} "
                    "takes none"
                )
            decoder = "annealed-mean"
        logits = self._run(_check_lightness(lightness))  # (2, K, H, W)
        dists = {
            channel: Distribution.from_logits(
                np.ascontiguousarray(logits[i].transpose(1, 2, 0), np.float32),
                self.bins(channel),
                self.colorspace,
                channel,
            )
            for i, channel in enumerate(("a", "b"))
        }
        chroma = decode_prediction(
            dists,
            channels=("a", "b"),
            decoder=decoder or self.default_decoder,
            seed=seed,
            temperature=temperature,
        )
        return Prediction(
            chroma=np.asarray(chroma, np.float32),
            distributions=dists,
            uncertainty=np.asarray(uncertainty_map(dists), np.float32),
        )


class CNNGan(CNNRegression):
    """Generator of the report's conditional GAN (Appendix 1): a U-Net predicting a, b.

    Trained with an adversarial (PatchGAN) loss plus lambda * L1 by
    :mod:`colorize_cnn.gan`; only the generator is shipped. Its total stride is
    32, so the working image is rounded up to a multiple of 32 and other sizes are
    padded by reflection and cropped back.

    Option ``flip_average`` (default True; a deviation from the report, MODEL_CARD.md):
    the chroma is the mean of the generator's output on the image and, mirrored back, on
    its mirror image. A photo and its mirror image have the same colours, so the two
    outputs differ only where the generator is unsure; their mean is closer to the truth
    on every validation set (RMSE-alpha-beta -0.8 to -0.9 %) and a little less colourful
    (-3 to -5 %). ``flip_average=False`` gives the generator's single output.
    """

    name = "cnn-gan"
    description = (
        "pix2pix-style U-Net regressing Lab a,b, trained adversarially against a PatchGAN "
        "plus L1 (the loss-study report's CGAN, Appendix 1)"
    )
    size_multiple = 32
    stride = 32
    accepted_options = ("flip_average",)

    def predict(self, lightness, *, reference=None, seed=None, decoder=None,
                flip_average: bool = True, **options):
        self._check_call(decoder, options)
        if not isinstance(flip_average, (bool, np.bool_)):
            raise TypeError(f"{self.name}: flip_average must be True or False, "
                            f"got {flip_average!r}")
        lightness = _check_lightness(lightness)
        chroma = self._run(lightness)
        if flip_average:
            mirrored = self._run(np.ascontiguousarray(lightness[:, ::-1]))[..., ::-1]
            chroma = 0.5 * (chroma + mirrored)
        return Prediction(chroma=np.ascontiguousarray(chroma.transpose(1, 2, 0), np.float32))


#: Every variant, shipped or not (the plugin registers the shipped ones).
COLORIZERS = (CNNClassification, CNNRegression, CNNSmoothL1, CNNGan)
