"""Per-pixel chroma distributions predicted by classification colorizers.

A :class:`Distribution` holds one histogram per pixel over the bins of one chroma channel
(marginal, ``probs`` (H, W, K)) or of two channels jointly (``probs`` (H, W, K1, K2)). Methods
return them in :attr:`core.colorizer.Prediction.distributions`, keyed by channel name (``"a"``,
``"b"``, ``"ab"``, ``"hue"``, ``"chroma"``, ``"cb"``, ``"cr"``); :mod:`core.decoders` turns
them into values and :mod:`core.transfer` biases them towards a reference.

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for
Automatic Colorization. ECCV 2016, Secs. 3.2-3.4 and Fig. 10.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.binning import Bins, JointBins

__all__ = ["Distribution", "softmax", "uncertainty_map"]


def softmax(
    logits: np.ndarray, axis: int | tuple[int, ...] = -1, temperature: float = 1.0
) -> np.ndarray:
    """Numerically stable ``softmax(logits / temperature)`` over ``axis``, float32.

    Raises
    ------
    ValueError
        If ``temperature <= 0``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = np.asarray(logits, dtype=np.float32) / np.float32(temperature)
    z = z - z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def _split_channel(channel: str) -> tuple[str, str]:
    """Names of the two channels of a joint channel name ("ab" or "hue,chroma")."""
    if "," in channel:
        return tuple(part.strip() for part in channel.split(",", 1))
    if len(channel) == 2:
        return channel[0], channel[1]
    return f"{channel}[0]", f"{channel}[1]"


@dataclass
class Distribution:
    """Per-pixel histograms over the bins of one chroma channel, or two jointly.

    Attributes
    ----------
    probs : ndarray, float32
        (H, W, K) for a marginal distribution, (H, W, K1, K2) for a joint one.
        Non-negative; each pixel's histogram sums to one (see :meth:`normalized`).
    bins : Bins or JointBins (a tuple of two Bins)
        Bins of the last axis (marginal) or of the last two axes (joint).
    colorspace : str
        Registered colour-space name the channel belongs to (``"lab"``, ...).
    channel : str
        Channel name: ``"a"``, ``"b"``, ``"hue"``, ``"chroma"``, or for a joint
        distribution the two names together (``"ab"`` or ``"hue,chroma"``).

    Raises
    ------
    ValueError
        At construction, if the shape of ``probs`` does not match ``bins``.

    Examples
    --------
    >>> from core.binning import CNN_AB_BINS
    >>> d = Distribution.from_logits(np.zeros((2, 3, 10)), CNN_AB_BINS, "lab", "a")
    >>> d.shape, round(float(d.entropy()[0, 0]), 4)
    ((2, 3), 2.3026)
    """

    probs: np.ndarray
    bins: Bins | JointBins
    colorspace: str
    channel: str

    def __post_init__(self) -> None:
        if isinstance(self.bins, tuple) and not isinstance(self.bins, JointBins):
            if len(self.bins) != 2 or not all(isinstance(b, Bins) for b in self.bins):
                raise TypeError(f"joint bins must be a pair of Bins, got {self.bins!r}")
            self.bins = JointBins(*self.bins)
        if not isinstance(self.bins, (Bins, JointBins)):
            raise TypeError(
                f"bins must be a Bins or a pair of Bins, got {type(self.bins).__name__}"
            )
        self.probs = np.asarray(self.probs, dtype=np.float32)
        bin_shape = self.bins.shape if self.is_joint else (self.bins.k,)
        if self.probs.shape[2:] != bin_shape:
            raise ValueError(
                f"expected probs of shape (H, W, {', '.join(map(str, bin_shape))}) for "
                f"{self.channel!r} bins, got {self.probs.shape}"
            )

    @classmethod
    def from_logits(
        cls,
        logits: np.ndarray,
        bins: Bins | JointBins | tuple[Bins, Bins],
        colorspace: str,
        channel: str,
        temperature: float = 1.0,
    ) -> Distribution:
        """Distribution from network logits through a stable softmax.

        Parameters
        ----------
        logits : ndarray
            (H, W, K); for joint bins (H, W, K1, K2) or flat (H, W, K1 * K2).
        bins, colorspace, channel
            As for the class.
        temperature : float, default 1
            ``softmax(logits / T)``; T < 1 sharpens (Zhang et al.'s annealing).

        Raises
        ------
        ValueError
            If ``temperature <= 0`` or the shape does not match ``bins``.
        """
        logits = np.asarray(logits)
        if not isinstance(bins, tuple):
            return cls(softmax(logits, temperature=temperature), bins, colorspace, channel)
        bins = JointBins(*bins)
        if logits.ndim == 3 and logits.shape[-1] == bins.k:
            logits = logits.reshape(*logits.shape[:2], *bins.shape)
        probs = softmax(logits, axis=(-2, -1), temperature=temperature)
        return cls(probs, bins, colorspace, channel)

    @property
    def is_joint(self) -> bool:
        """Whether this is a joint distribution over two channels."""
        return isinstance(self.bins, JointBins)

    @property
    def shape(self) -> tuple[int, int]:
        """Spatial shape (H, W)."""
        return self.probs.shape[:2]

    @property
    def k(self) -> int:
        """Number of bins (cells, for a joint distribution)."""
        return self.bins.k

    @property
    def channel_names(self) -> tuple[str, ...]:
        """``(channel,)`` for a marginal, the two channel names for a joint distribution."""
        return _split_channel(self.channel) if self.is_joint else (self.channel,)

    @property
    def circular(self) -> bool:
        """Whether the (marginal) channel is circular."""
        return not self.is_joint and self.bins.circular

    def flat_probs(self) -> np.ndarray:
        """Probabilities as (H * W, K) (joint: cells flattened row-major), a view when possible."""
        return self.probs.reshape(-1, self.k)

    def normalized(self) -> Distribution:
        """Copy whose histograms sum exactly to one (all-zero pixels become uniform)."""
        flat = self.flat_probs().astype(np.float64)
        total = flat.sum(axis=1, keepdims=True)
        flat = np.where(total > 0, flat / np.where(total > 0, total, 1), 1.0 / self.k)
        return replace(self, probs=flat.reshape(self.probs.shape).astype(np.float32))

    def entropy(self) -> np.ndarray:
        """Shannon entropy of each pixel's histogram in nats, shape (H, W), float32.

        ``0 log 0`` is taken as 0. Ranges from 0 (one-hot) to ``log K`` (uniform).
        """
        p = self.flat_probs()
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)
        return (-terms.sum(axis=1)).reshape(self.shape).astype(np.float32)

    def marginal(self, axis: int) -> Distribution:
        """Marginal of a joint distribution: ``axis`` 0 keeps the first channel, 1 the second.

        Raises
        ------
        ValueError
            If the distribution is not joint or ``axis`` is not 0 or 1.
        """
        if not self.is_joint:
            raise ValueError(f"{self.channel!r} is already a marginal distribution")
        if axis not in (0, 1):
            raise ValueError(f"axis must be 0 or 1, got {axis}")
        probs = self.probs.sum(axis=3 - axis)
        return Distribution(probs, self.bins[axis], self.colorspace, self.channel_names[axis])

    def resize(self, size: tuple[int, int]) -> Distribution:
        """Bilinearly resize to ``size`` = (H, W); a convex mix of histograms stays a histogram."""
        height, width = size
        if self.shape == (height, width):
            return self
        flat = self.probs.reshape(*self.shape, -1)
        chunks = [  # OpenCV resizes at most 128 channels at a time (bilinear by default)
            cv2.resize(np.ascontiguousarray(flat[..., i : i + 128]), (width, height))
            for i in range(0, flat.shape[-1], 128)
        ]
        probs = np.dstack(chunks).reshape(height, width, *self.probs.shape[2:])
        return replace(self, probs=np.maximum(probs, 0))

    def __repr__(self) -> str:
        return (
            f"Distribution({self.colorspace}:{self.channel}, shape={self.shape}, "
            f"bins={self.bins!r})"
        )


def uncertainty_map(distributions: dict[str, Distribution]) -> np.ndarray:
    """Per-pixel colour uncertainty, shape (H, W), float32; larger is less certain.

    With ``"hue"`` and ``"chroma"`` distributions this is Larsson et al.'s (2016) measure (Sec. 4,
    Fig. 10): the entropy of the hue histogram times the chroma, so the hue of gray pixels,
    which does not matter, adds nothing. The chroma value is the expectation of the chroma
    distribution. Otherwise it is the sum of the entropies of all given distributions (a joint
    one counts once).

    Parameters
    ----------
    distributions : dict of str to Distribution
        As in :attr:`core.colorizer.Prediction.distributions`.

    Raises
    ------
    ValueError
        If ``distributions`` is empty or their spatial shapes differ.
    """
    if not distributions:
        raise ValueError("uncertainty_map needs at least one distribution")
    shapes = {d.shape for d in distributions.values()}
    if len(shapes) > 1:
        raise ValueError(f"distributions have different spatial shapes: {sorted(shapes)}")
    hue, chroma = distributions.get("hue"), distributions.get("chroma")
    if hue is not None and chroma is not None and not hue.is_joint and not chroma.is_joint:
        p = chroma.flat_probs()
        expected = (p @ chroma.bins.centers.astype(np.float32)) / np.maximum(p.sum(axis=1), 1e-12)
        return (hue.entropy() * expected.reshape(chroma.shape)).astype(np.float32)
    return sum((d.entropy() for d in distributions.values()), np.zeros(shapes.pop(), np.float32))
