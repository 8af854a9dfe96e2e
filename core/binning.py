"""Quantisation of chroma channels into bins.

Classification-style colorizers predict a histogram over bins of a chroma channel instead of a
value. A :class:`Bins` describes one channel's bins (edges, representative centres,
circularity); a :class:`JointBins` is the product grid of two channels (Larsson et al.'s 16 x 16
joint ab histogram). (The discretized mixture of logistics of PixelCNN++ that Zhao et al. 2019
use is the semantic plugin's own, ``colorize_semantic.logistic``: no other method needs it.)

Bin sets of the methods in the literature:

=====================  =======================================================
:data:`LAB_AB_BINS`     32 Gaussian-quantile bins of a or b (Larsson Sec. 3.2)
:data:`LAB_JOINT_BINS`  16 x 16 Gaussian-quantile grid of (a, b) (Larsson)
:data:`HUE_BINS`        32 uniform circular bins of hue in [0, 1) (Larsson)
:data:`CHROMA_BINS`     32 uniform bins of chroma in [0, 1] (Larsson)
:data:`CNN_AB_BINS`     10 uniform bins of width 20 over [-100, 100] (CNN report)
:data:`PIXCOLOR_BINS`   32 uniform bins of Cb or Cr over [-0.5, 0.5] (PixColor)
=====================  =======================================================

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for
Automatic Colorization. ECCV 2016, Sec. 3.2.
S. Guadarrama et al. PixColor: Pixel Recursive Colorization. BMVC 2017, Sec. 3.
"Image Colorization with CNNs: a study of loss functions" (course report), Sec. 4.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np

# The standard normal of the standard library keeps scipy.stats (seconds to import) out of
# ``import core``; only a few dozen values are ever needed.
_norm_ppf = np.vectorize(NormalDist().inv_cdf, otypes=[float])
_norm_cdf = np.vectorize(NormalDist().cdf, otypes=[float])


def _norm_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.asarray(z) ** 2) / np.sqrt(2 * np.pi)


__all__ = [
    "CHROMA_BINS",
    "CNN_AB_BINS",
    "HUE_BINS",
    "LAB_AB_BINS",
    "LAB_JOINT_BINS",
    "PIXCOLOR_BINS",
    "Bins",
    "JointBins",
    "gaussian_quantile_bins",
    "joint_ab_bins",
    "uniform_bins",
]


def _readonly(values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Bins:
    """Bins of one chroma channel (made by :func:`uniform_bins` or :func:`gaussian_quantile_bins`).

    Two ``Bins`` are equal when their edges, centres and circularity are.

    Attributes
    ----------
    edges : ndarray, shape (K + 1,), float64, read-only
        Strictly increasing bin boundaries; bin ``k`` is ``[edges[k], edges[k+1])``.
    centers : ndarray, shape (K,), float64, read-only
        The value each bin stands for (decoders return these); inside its bin.
    circular : bool
        The channel wraps around (hue): ``edges[0]`` and ``edges[-1]`` are the
        same point, and distances are measured around the circle.
    name : str
        Free-form label, e.g. ``"lab-ab"``.
    """

    edges: np.ndarray
    centers: np.ndarray
    circular: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        edges = _readonly(self.edges)
        centers = _readonly(self.centers)
        if edges.ndim != 1 or edges.size < 2:
            raise ValueError(f"expected 1-D edges with at least 2 entries, got shape {edges.shape}")
        if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
            raise ValueError("bin edges must be finite and strictly increasing")
        if centers.shape != (edges.size - 1,):
            raise ValueError(
                f"expected {edges.size - 1} centers for {edges.size} edges, "
                f"got shape {centers.shape}"
            )
        if np.any(centers < edges[:-1]) or np.any(centers > edges[1:]):
            raise ValueError("every center must lie inside its bin")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "centers", centers)
        object.__setattr__(self, "circular", bool(self.circular))

    @property
    def k(self) -> int:
        """Number of bins K."""
        return self.centers.size

    @property
    def low(self) -> float:
        """Lower end of the range, ``edges[0]``."""
        return float(self.edges[0])

    @property
    def high(self) -> float:
        """Upper end of the range, ``edges[-1]``."""
        return float(self.edges[-1])

    @property
    def period(self) -> float:
        """Length of the range, ``high - low`` (the period of a circular channel)."""
        return self.high - self.low

    @property
    def widths(self) -> np.ndarray:
        """Bin widths, shape (K,)."""
        return np.diff(self.edges)

    def angles(self) -> np.ndarray:
        """Centres as angles ``2 pi (c - low) / period`` in radians (for circular bins)."""
        return 2 * np.pi * (self.centers - self.low) / self.period

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bins):
            return NotImplemented
        return (
            self.circular == other.circular
            and np.array_equal(self.edges, other.edges)
            and np.array_equal(self.centers, other.centers)
        )

    def __hash__(self) -> int:
        return hash((self.edges.tobytes(), self.centers.tobytes(), self.circular))

    def __repr__(self) -> str:
        kind = "circular " if self.circular else ""
        label = f" {self.name!r}" if self.name else ""
        return f"<Bins{label}: {self.k} {kind}bins over [{self.low:g}, {self.high:g}]>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (for ONNX ``metadata_props``)."""
        return {
            "edges": self.edges.tolist(),
            "centers": self.centers.tolist(),
            "circular": self.circular,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bins:
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(data["edges"]),
            np.asarray(data["centers"]),
            bool(data.get("circular", False)),
            str(data.get("name", "")),
        )

    def wrap(self, values: np.ndarray) -> np.ndarray:
        """Values mapped into ``[low, high)`` for circular bins (unchanged otherwise)."""
        values = np.asarray(values, dtype=np.float64)
        if not self.circular:
            return values
        wrapped = self.low + np.mod(values - self.low, self.period)
        return np.where(wrapped >= self.high, self.low, wrapped)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Index of the bin holding each value (hard assignment).

        Parameters
        ----------
        values : array_like, any shape, float
            Channel values. Out-of-range values go to the first or last bin;
            circular channels wrap around instead.

        Returns
        -------
        ndarray, same shape, intp
            Indices in ``[0, K)``.

        Raises
        ------
        ValueError
            If a value is NaN.

        Examples
        --------
        >>> CNN_AB_BINS.encode([-150.0, -100.0, -0.1, 0.0, 99.9, 150.0])
        array([0, 0, 4, 5, 9, 9])
        """
        values = self.wrap(values)
        if np.isnan(values).any():
            raise ValueError("cannot bin NaN values")
        return np.searchsorted(self.edges[1:-1], values, side="right").astype(np.intp)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Centre of each bin index, same shape as ``indices``."""
        return self.centers[np.asarray(indices)]

    def one_hot(self, values: np.ndarray) -> np.ndarray:
        """One-hot histograms, shape ``(..., K)``, float32 (Larsson Eq. 2 target with R = 1)."""
        return (self.encode(values)[..., None] == np.arange(self.k)).astype(np.float32)

    def distance(self, values: np.ndarray) -> np.ndarray:
        """Signed distance from each value to every centre, shape ``(..., K)``.

        Circular bins measure around the circle (result in ``[-period/2, period/2)``).
        """
        delta = np.asarray(values, dtype=np.float64)[..., None] - self.centers
        if self.circular:
            half = self.period / 2
            delta = np.mod(delta + half, self.period) - half
        return delta

    def soft_encode(self, values: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Gaussian-smoothed target histograms, shape ``(..., K)``, float32, rows sum to 1.

        The weight of bin k is ``exp(-d_k^2 / (2 sigma^2))`` with ``d_k`` the distance from the
        value to centre k (around the circle for circular bins), normalised over bins. Larsson
        et al. (Sec. 3.2) found no benefit over one-hot targets; other classification colorizers
        (Zhang et al. 2016) use such soft targets.

        Parameters
        ----------
        values : array_like, any shape, float
        sigma : float, optional
            Kernel width in channel units; default the median bin width.

        Raises
        ------
        ValueError
            If ``sigma <= 0`` or a value is NaN.
        """
        if sigma is None:
            sigma = float(np.median(self.widths))
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        values = np.asarray(values, dtype=np.float64)
        if np.isnan(values).any():
            raise ValueError("cannot bin NaN values")
        d2 = self.distance(values) ** 2
        d2 -= d2.min(axis=-1, keepdims=True)  # the nearest bin gets weight 1: no underflow
        weights = np.exp(-d2 / (2 * sigma**2))
        return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def uniform_bins(
    low: float, high: float, k: int, *, circular: bool = False, name: str = ""
) -> Bins:
    """``k`` equal-width bins over ``[low, high]`` with centres at the midpoints.

    Parameters
    ----------
    low, high : float
        Range, ``low < high``. For a circular channel, ``low`` and ``high`` are
        the same point (hue 0 and 1).
    k : int
        Number of bins, at least 1.
    circular : bool, default False
    name : str, optional

    Raises
    ------
    ValueError
        If ``k < 1`` or ``low >= high``.

    References
    ----------
    Larsson et al. 2016, Sec. 3.2 (hue/chroma: uniform in [0, 1]); the CNN
    loss-study report, Sec. 4.2 (10 bins of width 20 over [-100, 100]);
    Guadarrama et al. 2017, Sec. 3 (32 bins of Cb and Cr).

    Examples
    --------
    >>> uniform_bins(0.0, 1.0, 4).centers
    array([0.125, 0.375, 0.625, 0.875])
    """
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    if not low < high:
        raise ValueError(f"expected low < high, got low={low}, high={high}")
    edges = np.linspace(low, high, int(k) + 1)
    return Bins(edges, (edges[:-1] + edges[1:]) / 2, circular, name)


def gaussian_quantile_bins(
    k: int = 32,
    mu: float = 0.0,
    sigma: float = 25.0,
    name: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
) -> Bins:
    """Bins with edges at evenly spaced quantiles of N(mu, sigma^2) (Larsson Sec. 3.2).

    The interior edges are ``mu + sigma * Phi^-1(i / k)``, i = 1..k-1, so each bin has
    probability exactly 1/k under N(mu, sigma^2) once out-of-range values are clipped into the
    end bins (as :meth:`Bins.encode` does). The outer edges, which would be infinite, are set to
    ``low``/``high`` (default ``mu -/+ 4 sigma``, i.e. [-100, 100] for Lab's sigma = 25). Each
    centre is the conditional mean of the Gaussian within its bin (the bin's centroid),
    ``mu + sigma (phi(a) - phi(b)) / (Phi(b) - Phi(a))``.

    Parameters
    ----------
    k : int, default 32
        Number of bins (Larsson: 32 per channel for marginals, 16 per axis for joint).
    mu, sigma : float, default 0 and 25
    name : str, optional
    low, high : float, optional
        Outer edges; must lie outside the interior edges.

    Raises
    ------
    ValueError
        If ``k < 2``, ``sigma <= 0`` or the outer edges cut into the interior ones.

    References
    ----------
    Larsson et al. 2016, Sec. 3.2: "We bin the Lab axes by evenly spaced
    Gaussian quantiles (mu = 0, sigma = 25)".

    Examples
    --------
    >>> bins = gaussian_quantile_bins(4, 0.0, 25.0)
    >>> bins.edges.round(2)
    array([-100.  ,  -16.86,    0.  ,   16.86,  100.  ])
    """
    if int(k) != k or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    k = int(k)
    low = mu - 4 * sigma if low is None else float(low)
    high = mu + 4 * sigma if high is None else float(high)
    interior = mu + sigma * _norm_ppf(np.arange(1, k) / k)
    if not (low < interior[0] and high > interior[-1]):
        raise ValueError(
            f"outer edges [{low}, {high}] must enclose the interior edges "
            f"[{interior[0]:.4g}, {interior[-1]:.4g}]"
        )
    edges = np.concatenate([[low], interior, [high]])
    z = (edges - mu) / sigma
    mass = np.diff(_norm_cdf(z))
    centers = mu + sigma * (_norm_pdf(z[:-1]) - _norm_pdf(z[1:])) / mass
    return Bins(edges, np.clip(centers, edges[:-1], edges[1:]), False, name)


class JointBins(NamedTuple):
    """Product grid of two channels' bins (Larsson's joint ab histogram).

    A ``JointBins`` *is* a tuple ``(first, second)`` of :class:`Bins`, so it can be passed
    wherever a pair of bins is expected. Flat indices are row-major: ``i * second.k + j``.
    """

    first: Bins
    second: Bins

    @property
    def k(self) -> int:
        """Total number of cells, ``K1 * K2``."""
        return self.first.k * self.second.k

    @property
    def shape(self) -> tuple[int, int]:
        """``(K1, K2)``."""
        return (self.first.k, self.second.k)

    @property
    def centers(self) -> np.ndarray:
        """Cell centres, shape (K1, K2, 2)."""
        a, b = np.meshgrid(self.first.centers, self.second.centers, indexing="ij")
        return np.stack([a, b], axis=-1)

    def _split(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(values, dtype=np.float64)
        if values.shape[-1:] != (2,):
            raise ValueError(f"expected (..., 2) pairs of values, got shape {values.shape}")
        return values[..., 0], values[..., 1]

    def encode_pair(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis bin indices of ``values`` (..., 2)."""
        first, second = self._split(values)
        return self.first.encode(first), self.second.encode(second)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Flat cell index of each pair in ``values`` (..., 2), shape (...).

        Examples
        --------
        >>> LAB_JOINT_BINS.encode([[0.0, 0.0], [-200.0, 200.0]])
        array([136,  15])
        """
        i, j = self.encode_pair(values)
        return i * self.second.k + j

    def decode(self, flat: np.ndarray) -> np.ndarray:
        """Cell centres of flat indices, shape ``(..., 2)``."""
        i, j = np.divmod(np.asarray(flat), self.second.k)
        return np.stack([self.first.centers[i], self.second.centers[j]], axis=-1)

    def one_hot(self, values: np.ndarray) -> np.ndarray:
        """One-hot joint histograms, shape ``(..., K1, K2)``, float32."""
        cells = np.arange(self.k).reshape(self.shape)
        return (self.encode(values)[..., None, None] == cells).astype(np.float32)

    def soft_encode(self, values: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Separable Gaussian-smoothed joint targets, shape ``(..., K1, K2)``, sum 1."""
        first, second = self._split(values)
        p = self.first.soft_encode(first, sigma)
        q = self.second.soft_encode(second, sigma)
        return p[..., :, None] * q[..., None, :]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description."""
        return {"first": self.first.to_dict(), "second": self.second.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JointBins:
        """Inverse of :meth:`to_dict`."""
        return cls(Bins.from_dict(data["first"]), Bins.from_dict(data["second"]))


def joint_ab_bins(k: int = 16, mu: float = 0.0, sigma: float = 25.0) -> JointBins:
    """Larsson's joint (a, b) grid: ``k x k`` Gaussian-quantile bins (default 16 x 16, as in
    Larsson et al. 2016, Sec. 3.2)."""
    axis = gaussian_quantile_bins(k, mu, sigma, name=f"lab-ab-{k}")
    return JointBins(axis, axis)


#: Larsson's marginal Lab bins: 32 Gaussian quantiles (mu 0, sigma 25) of a or b.
LAB_AB_BINS = gaussian_quantile_bins(32, 0.0, 25.0, name="lab-ab")
#: Larsson's joint Lab grid, 16 x 16.
LAB_JOINT_BINS = joint_ab_bins(16)
#: Larsson's hue bins: 32 uniform, circular, on [0, 1).
HUE_BINS = uniform_bins(0.0, 1.0, 32, circular=True, name="hue")
#: Larsson's chroma bins: 32 uniform on [0, 1].
CHROMA_BINS = uniform_bins(0.0, 1.0, 32, name="chroma")
#: The CNN loss-study report's a/b classes: 10 bins of width 20 over [-100, 100].
CNN_AB_BINS = uniform_bins(-100.0, 100.0, 10, name="cnn-ab")
#: PixColor's Cb/Cr classes: 32 uniform bins over the centred range of core.colorspaces.ycbcr.
PIXCOLOR_BINS = uniform_bins(-0.5, 0.5, 32, name="pixcolor-cbcr")
