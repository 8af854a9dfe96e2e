"""Decoders: from per-pixel chroma histograms to chroma values.

A classification colorizer predicts a histogram per pixel
(:class:`core.distributions.Distribution`); a decoder picks a value from it. Larsson et al.
(Sec. 3.3, Table 5) compare sample, mode, median and expectation, per channel, with or
without *chromatic fading* (Eq. 5); Zhang et al. (2016) add the annealed mean. Each decoder
is a plain function (``mode(dist)``), registered as a :class:`Decoder` under its name
(``sample``, ``sample-once``, ``mode``, ``median``, ``expectation``, ``annealed-mean``: the
table of docs/colour-science.md "Decoders"). :func:`decode_prediction` decodes both chroma
channels of a prediction with a spec such as ``"mode"`` or
``"hue=expectation+fading,chroma=median"`` (Larsson's best, Table 5).

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for Automatic
Colorization. ECCV 2016, Sec. 3.3, Eqs. 4-5, Table 5.
R. Zhang, P. Isola, A. Efros. Colorful Image Colorization. ECCV 2016, Sec. 2.2 (annealed
mean, T = 0.38).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from core import lookup
from core.binning import Bins
from core.distributions import Distribution

__all__ = [
    "BUILTIN_DECODERS",
    "FADING_ETA",
    "Decoder",
    "annealed_mean",
    "chromatic_fading",
    "decode_prediction",
    "decoder_names",
    "expectation",
    "get_decoder",
    "hue_concentration",
    "median",
    "mode",
    "sample",
    "sample_once",
]

#: eta of Larsson et al. Eq. 5 (chromatic fading), found by cross-validation.
FADING_ETA = 0.03
#: Zhang et al.'s annealed-mean temperature.
ANNEALED_TEMPERATURE = 0.38

Seed = int | np.random.Generator | np.random.SeedSequence | None


class Decoder:
    """A named decoder: ``decoder(dist, *, seed=None, **options) -> values``.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"median"``.
    function : callable
        ``function(dist, *, seed=None, **options)`` returning (H, W) values for a marginal
        :class:`~core.distributions.Distribution`, (H, W, 2) for a joint one.
    description : str, optional
        One line for listings.
    stochastic : bool, default False
        Whether the result depends on ``seed``.
    """

    def __init__(
        self,
        name: str,
        function: Callable[..., np.ndarray],
        description: str = "",
        *,
        stochastic: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"decoder name must be a non-empty string, got {name!r}")
        self.name = name
        self.function = function
        self.description = description
        self.stochastic = stochastic

    def __call__(self, dist: Distribution, *, seed: Seed = None, **options: Any) -> np.ndarray:
        if not isinstance(dist, Distribution):
            raise TypeError(
                f"decoder {self.name!r} expects a Distribution, got {type(dist).__name__}"
            )
        return self.function(dist, seed=seed, **options)

    def __repr__(self) -> str:
        return f"<Decoder {self.name!r}>"


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _shaped(dist: Distribution, values: np.ndarray) -> np.ndarray:
    """Per-pixel ``values`` (N,) or (N, 2) as float32 (H, W) or (H, W, 2)."""
    return values.reshape(*dist.shape, *((2,) if dist.is_joint else ())).astype(np.float32)


def _index_values(dist: Distribution, index: np.ndarray) -> np.ndarray:
    """Bin centres of flat bin indices (N,), shaped (H, W) or (H, W, 2)."""
    return _shaped(dist, dist.bins.decode(index))


# Pixels per block of the cumulative-sum decoders, transposed to (K, n) so that the running
# sum is K vector additions (numpy's cumsum along a short last axis is ~8x slower).
_BLOCK = 16384


def _cdf_blocks(p: np.ndarray):
    """Yield (start, n, cdf) over pixel blocks of histograms ``p`` (N, K): ``cdf`` is a
    reused (K + 1, n) float32 buffer, ``cdf[0] = 0``, ``cdf[k + 1]`` the sum of bins 0..k."""
    p = np.ascontiguousarray(p, dtype=np.float32)
    k = p.shape[1]
    buffer = np.zeros((k + 1, min(_BLOCK, p.shape[0])), dtype=np.float32)
    for start in range(0, p.shape[0], _BLOCK):
        block = p[start : start + _BLOCK]
        n = block.shape[0]
        cdf = buffer[:, :n] if n == buffer.shape[1] else np.zeros((k + 1, n), dtype=np.float32)
        out = cv2.transpose(block, dst=cdf[1:])
        if not np.shares_memory(out, cdf):  # OpenCV allocated instead of writing in place
            cdf[1:] = out
        for i in range(2, k + 1):
            np.add(cdf[i - 1], cdf[i], out=cdf[i])
        yield start, n, cdf


def _count(mask: np.ndarray) -> np.ndarray:
    """Number of True entries per column of a (K, n) boolean mask, int32."""
    return cv2.reduce(mask.view(np.uint8), 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1)


def _inverse_cdf(dist: Distribution, quantile: np.ndarray) -> np.ndarray:
    """Flat index of the bin where each pixel's CDF first exceeds ``quantile`` x total."""
    index = np.empty(dist.shape[0] * dist.shape[1], dtype=np.intp)
    for start, n, cdf in _cdf_blocks(dist.flat_probs()):
        target = quantile[start : start + n] * cdf[-1]
        index[start : start + n] = _count(cdf[1:] <= target)
    return np.minimum(index, dist.k - 1)


def _weighted_sums(p: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``p @ columns`` for (N, K) histograms and (K, m) columns, (N, m) float32: one einsum
    per column, as fast as one-core BLAS and not slowed several-fold by busy cores."""
    rows = np.ascontiguousarray(np.asarray(columns, dtype=np.float32).T)
    return np.stack([np.einsum("nk,k->n", p, row) for row in rows], axis=1)


def _moment_columns(bins: Bins) -> np.ndarray:
    """Columns whose weighted sums give a bin set's mean: value, or (cos, sin) when circular."""
    if bins.circular:
        angles = bins.angles()
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return bins.centers[:, None]


def _from_moments(bins: Bins, moments: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The mean from the sums of :func:`_moment_columns` (circular: wrapped into the range)."""
    if bins.circular:
        angle = np.arctan2(moments[:, 1], moments[:, 0])
        return bins.wrap(bins.low + angle / (2 * np.pi) * bins.period)
    return np.clip(moments[:, 0] / np.maximum(total, 1e-30), bins.centers[0], bins.centers[-1])


def _expect(dist: Distribution, p: np.ndarray) -> np.ndarray:
    """Expectation of (N, K) histograms ``p`` over ``dist``'s bins, (H, W) or (H, W, 2)."""
    axes = list(dist.bins) if dist.is_joint else [dist.bins]
    columns = [_moment_columns(bins) for bins in axes]
    if dist.is_joint:  # spread each axis's columns over the K1 x K2 grid
        columns = [np.repeat(columns[0], axes[1].k, axis=0), np.tile(columns[1], (axes[0].k, 1))]
    moments = _weighted_sums(p, np.hstack([*columns, np.ones((p.shape[1], 1))])).astype(np.float64)
    parts = np.split(moments, np.cumsum([c.shape[1] for c in columns]), axis=1)[:-1]
    means = [_from_moments(b, m, moments[:, -1]) for b, m in zip(axes, parts, strict=True)]
    return _shaped(dist, np.stack(means, axis=-1))


def sample(dist: Distribution, *, seed: Seed = None) -> np.ndarray:
    """Draw a bin per pixel from its histogram and return the bin centre.

    Independent draws per pixel can produce high-frequency colour noise where histograms have
    high entropy (Larsson et al. 2016, Sec. 3.3 "Sample"; Table 5 row 1).

    Parameters
    ----------
    dist : Distribution
    seed : int, SeedSequence or numpy Generator, optional
        The same seed gives the same image.

    Returns
    -------
    ndarray, (H, W) float32 (joint: (H, W, 2))
    """
    quantile = _rng(seed).random(dist.shape[0] * dist.shape[1], dtype=np.float32)
    return _index_values(dist, _inverse_cdf(dist, quantile))


def sample_once(dist: Distribution, *, seed: Seed = None) -> np.ndarray:
    """Draw one quantile u for the whole image and return each pixel's u-quantile bin centre.

    Spatially coherent sampling: all pixels move together towards their low (u near 0) or high
    (u near 1) bins, the ``once`` mode of Larsson's released code (autocolorize).

    Returns
    -------
    ndarray, (H, W) float32 (joint: (H, W, 2))
    """
    quantile = np.float32(_rng(seed).random())
    return _index_values(dist, _inverse_cdf(dist, np.full(dist.shape[0] * dist.shape[1], quantile)))


def mode(dist: Distribution, *, seed: Seed = None) -> np.ndarray:
    """Centre of the most probable bin (``argmax_k p_k``).

    Can create jarring transitions and splits votes between neighbouring bins (Larsson et al.
    2016, Sec. 3.3 "Mode"; Table 5 row 2). On a one-hot histogram it equals :func:`expectation`.

    Returns
    -------
    ndarray, (H, W) float32 (joint: (H, W, 2), the most probable cell)
    """
    return _index_values(dist, np.argmax(dist.flat_probs(), axis=1))


def median(dist: Distribution, *, seed: Seed = None) -> np.ndarray:
    """Median of each histogram, read off the cumulative sum by linear interpolation.

    The histogram is treated as piecewise uniform within bins, so its CDF is piecewise linear
    between bin edges; the median is where it crosses 1/2. Always inside
    ``[edges[0], edges[-1]]``. For a joint distribution, the medians of the two marginals. The
    chroma decoder of Larsson et al.'s best model (2016, Sec. 3.3 "Median"; Table 5).

    Raises
    ------
    ValueError
        For a circular channel (hue), where the median is undefined (Sec. 3.3).

    Returns
    -------
    ndarray, (H, W) float32 (joint: (H, W, 2))
    """
    if dist.is_joint:
        return np.stack([median(dist.marginal(0)), median(dist.marginal(1))], axis=-1)
    if dist.circular:
        raise ValueError(
            f"the median is undefined for the circular channel {dist.channel!r}; "
            "use 'expectation' (circular mean) or 'mode'"
        )
    left = dist.bins.edges[:-1].astype(np.float32)
    width = dist.bins.widths.astype(np.float32)
    values = np.empty(dist.shape[0] * dist.shape[1], dtype=np.float32)
    for start, n, cdf in _cdf_blocks(dist.flat_probs()):
        half = np.float32(0.5) * cdf[-1]
        index = np.minimum(_count(cdf[1:] < half), dist.k - 1)
        flat = index * n + np.arange(n)
        before = np.take(cdf.reshape(-1), flat)  # CDF at the left edge of the crossing bin
        mass = np.take(cdf.reshape(-1), flat + n) - before
        fraction = np.full(n, 0.5, dtype=np.float32)
        np.divide(half - before, mass, out=fraction, where=mass > 0)
        np.clip(fraction, 0.0, 1.0, out=fraction)
        values[start : start + n] = np.take(left, index) + fraction * np.take(width, index)
    return values.reshape(dist.shape)


def expectation(dist: Distribution, *, seed: Seed = None) -> np.ndarray:
    """Mean of the bin centres weighted by the histogram; circular mean for hue.

    For a circular channel the complex expectation ``z = (1/K) sum_k p_k exp(i theta_k)``
    (Larsson et al. 2016, Sec. 3.3 "Expectation", Eq. 4; best for Lab) is taken and its argument
    mapped back into the channel's range, so the result does not depend on where the circle is
    cut. For a joint distribution, the expectation of each axis.

    Returns
    -------
    ndarray, (H, W) float32 (joint: (H, W, 2)), between the first and last centre
    (circular: in ``[low, high)``)
    """
    return _expect(dist, dist.flat_probs())


def annealed_mean(
    dist: Distribution, *, seed: Seed = None, temperature: float = ANNEALED_TEMPERATURE
) -> np.ndarray:
    """Expectation of the re-normalised ``p^(1/T)`` (Zhang et al.'s annealed mean).

    ``T = 1`` is the expectation, ``T -> 0`` the mode; Zhang et al. (2016, Sec. 2.2, Eq. 5)
    use 0.38 to keep the vibrancy of the mode with the spatial coherence of the mean. Joint
    distributions are annealed over all cells.

    Raises
    ------
    ValueError
        If ``temperature <= 0``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    p = np.ascontiguousarray(dist.flat_probs())
    q = cv2.log(p)  # p^(1/T) = exp(log(p) / T); empty bins give exp(-inf) = 0
    np.multiply(q, np.float32(1.0 / temperature), out=q)
    cv2.exp(q, dst=q)
    faint = cv2.reduce(q, 1, cv2.REDUCE_SUM).reshape(-1) < 1e-30
    if faint.any():  # very small T: every bin underflowed; rescale by the peak first
        rows = p[faint]
        peak = rows.max(axis=1, keepdims=True)
        q[faint] = np.power(rows / np.where(peak > 0, peak, 1), np.float32(1.0 / temperature))
    return _expect(dist, q)


def hue_concentration(hue: Distribution) -> np.ndarray:
    """``|z|`` of Larsson's Eq. 4, ``z = (1/K) sum_k p_k exp(i theta_k)``, shape (H, W).

    Between 0 (hue undecided: uniform or opposed modes) and ``1/K`` (one-hot).
    Note the ``1/K``: it is what the paper's ``eta = 0.03`` is calibrated
    against (K = 32, so ``|z| <= 0.031``), as in the authors' code.

    Raises
    ------
    ValueError
        If ``hue`` is not a marginal distribution over circular bins.
    """
    if hue.is_joint or not hue.circular:
        raise ValueError(f"expected a marginal distribution over circular bins, got {hue!r}")
    z = _weighted_sums(hue.flat_probs(), _moment_columns(hue.bins) / hue.k)
    return np.hypot(z[:, 0], z[:, 1]).reshape(hue.shape).astype(np.float32)


def chromatic_fading(
    hue: Distribution, chroma: np.ndarray, *, eta: float = FADING_ETA
) -> np.ndarray:
    """Fade chroma where the hue is uncertain: ``C * min(|z| / eta, 1)`` (Larsson Eq. 5).

    When the hue histogram has no clear direction (``|z|`` of Eq. 4 small) but the chroma
    estimate is high, the arbitrary hue creates artefacts (Fig. 3); fading pulls such pixels
    towards gray. The factor is in [0, 1], so fading never increases ``|C|``. (The extracted
    text of Eq. 5 reads ``max``; that would *raise* chroma, contradicting "downweight the
    chroma", so ``min``, as in the authors' code, is used.) Larsson et al. 2016, Sec. 3.3,
    Eq. 5, Fig. 3, Tables 1 and 5.

    Parameters
    ----------
    hue : Distribution
        Marginal hue distribution (circular bins), shape (H, W).
    chroma : ndarray, shape (H, W)
        Decoded chroma values.
    eta : float, default 0.03
        Threshold on ``|z|`` below which chroma is faded.

    Returns
    -------
    ndarray, (H, W) float32

    Raises
    ------
    ValueError
        If ``eta <= 0`` or the shapes differ.
    """
    if not eta > 0:
        raise ValueError(f"eta must be positive, got {eta}")
    chroma = np.asarray(chroma, dtype=np.float32)
    if chroma.shape != hue.shape:
        raise ValueError(f"expected chroma of shape {hue.shape}, got {chroma.shape}")
    return chroma * np.minimum(hue_concentration(hue) / np.float32(eta), np.float32(1.0))


BUILTIN_DECODERS: tuple[Decoder, ...] = (
    Decoder("sample", sample, "one draw per pixel (seeded)", stochastic=True),
    Decoder("sample-once", sample_once, "one shared quantile per image (seeded)", stochastic=True),
    Decoder("mode", mode, "centre of the most probable bin"),
    Decoder("median", median, "median by linear interpolation of the cumulative sum"),
    Decoder("expectation", expectation, "mean of bin centres; circular mean for hue (Eq. 4)"),
    Decoder("annealed-mean", annealed_mean, "mean of p^(1/T), T = 0.38 (Zhang et al.)"),
)


def get_decoder(name: str) -> Decoder:
    """The registered decoder called ``name``.

    Raises
    ------
    core.errors.UnknownNameError
        (a ``KeyError``) listing the installed decoders.
    """
    return lookup.lookup("decoder", name)


def decoder_names() -> list[str]:
    """Names of all registered decoders, sorted."""
    return lookup.names("decoder")


def _parse_spec(spec: str, channels: tuple[str, str]) -> tuple[dict[str, str], bool]:
    """``"mode"`` or ``"hue=expectation+fading,chroma=median"`` -> ({channel: name}, fading)."""
    fading = False

    def split(token: str) -> str:
        nonlocal fading
        name, *modifiers = [part.strip() for part in token.split("+")]
        for modifier in modifiers:
            if modifier != "fading":
                raise ValueError(
                    f"unknown decoder modifier {modifier!r} in {spec!r}; known: 'fading'"
                )
            fading = True
        if not name:
            raise ValueError(f"empty decoder name in {spec!r}")
        return name

    if "=" not in spec:
        return dict.fromkeys(channels, split(spec)), fading
    names: dict[str, str] = {}
    for part in spec.split(","):
        channel, sep, token = part.partition("=")
        channel = channel.strip()
        if not sep or channel not in channels:
            raise ValueError(
                f"bad decoder spec {spec!r}: {part.strip()!r} is not '<channel>=<decoder>' "
                f"for a channel in {channels}"
            )
        if channel in names:
            raise ValueError(f"decoder spec {spec!r} names channel {channel!r} twice")
        names[channel] = split(token)
    missing = [c for c in channels if c not in names]
    if missing:
        raise ValueError(f"decoder spec {spec!r} does not cover channel(s) {missing}")
    return names, fading


def _joint_key(distributions: dict[str, Distribution], channels: tuple[str, str]) -> str | None:
    for key in (channels[0] + channels[1], f"{channels[0]},{channels[1]}"):
        dist = distributions.get(key)
        if dist is not None and dist.is_joint:
            return key
    return None


def decode_prediction(
    distributions: dict[str, Distribution],
    channels: tuple[str, str],
    decoder: str | Decoder | None = None,
    *,
    seed: Seed = None,
    eta: float = FADING_ETA,
    temperature: float | None = None,
) -> np.ndarray:
    """Decode a prediction's two chroma channels into an (H, W, 2) float32 array.

    Parameters
    ----------
    distributions : dict of str to Distribution
        As in :attr:`core.colorizer.Prediction.distributions`: marginals keyed
        by channel (``"a"``, ``"b"``) or one joint distribution keyed by both
        names (``"ab"`` or ``"a,b"``), which is then decoded jointly.
    channels : tuple of two str
        The chroma channels in output order, e.g. ``("a", "b")`` or ``("hue", "chroma")``.
    decoder : str or Decoder
        One decoder name for every channel (``"mode"``), or a per-channel spec
        ``"hue=expectation+fading,chroma=median"`` (every row of Larsson's Table 5 can be
        written). ``+fading`` applies chromatic fading (Eq. 5) to the ``chroma`` channel using
        the ``hue`` distribution, whichever token carries it. No implicit default: pass the
        method's ``default_decoder``.
    seed : int, SeedSequence or Generator, optional
        For sampling decoders; each channel gets an independent stream derived
        from it, so the same seed reproduces the same colours.
    eta : float, default 0.03
        Chromatic-fading threshold.
    temperature : float, optional
        Temperature for ``annealed-mean`` (default 0.38).

    Returns
    -------
    ndarray, (H, W, 2) float32

    Raises
    ------
    ValueError
        If ``decoder`` is None, the spec is malformed, a channel has no
        distribution, or fading is asked for without hue and chroma.
    core.errors.UnknownNameError
        For a decoder name that is not registered (lists the available ones).

    References
    ----------
    Larsson et al. 2016, Sec. 3.3, Eqs. 4-5, Table 5.

    Examples
    --------
    >>> from core.binning import HUE_BINS, CHROMA_BINS
    >>> hue = Distribution(np.eye(32, dtype=np.float32)[None, [8]], HUE_BINS, "huechroma", "hue")
    >>> hot = np.eye(32, dtype=np.float32)[None, [16]]
    >>> chroma = Distribution(hot, CHROMA_BINS, "huechroma", "chroma")
    >>> decode_prediction({"hue": hue, "chroma": chroma}, ("hue", "chroma"),
    ...                   "hue=expectation+fading,chroma=median").round(4)
    array([[[0.2656, 0.5156]]], dtype=float32)
    """
    if decoder is None:
        raise ValueError(
            "decoder=None: pass the method's default decoder explicitly "
            "(e.g. decoder='expectation' or colorizer.default_decoder)"
        )
    channels = tuple(channels)
    if len(channels) != 2:
        raise ValueError(f"expected two chroma channel names, got {channels!r}")
    if isinstance(decoder, Decoder):
        fading, objects = False, {c: decoder for c in channels}
    elif isinstance(decoder, str):
        names, fading = _parse_spec(decoder, channels)
        objects = {c: get_decoder(n) for c, n in names.items()}
    else:
        raise TypeError(f"decoder must be a name or a Decoder, got {type(decoder).__name__}")
    if isinstance(seed, np.random.Generator):
        seeds = dict.fromkeys(channels, seed)
    else:
        seeds = dict(zip(channels, np.random.SeedSequence(seed).spawn(2), strict=True))

    def run(channel: str, dist: Distribution) -> np.ndarray:
        dec = objects[channel]
        annealed = temperature is not None and dec.function is annealed_mean
        return dec(dist, seed=seeds[channel], **({"temperature": temperature} if annealed else {}))

    joint_key = _joint_key(distributions, channels)
    first, second = channels
    if joint_key is not None:
        dist = distributions[joint_key]
        if objects[first] is objects[second]:
            out = list(np.moveaxis(run(first, dist), -1, 0))
        else:
            out = [run(c, dist.marginal(i)) for i, c in enumerate(channels)]
    else:
        missing = [c for c in channels if c not in distributions]
        if missing:
            raise ValueError(
                f"no distribution for channel(s) {missing}; have {sorted(distributions)} "
                f"(a joint one would be keyed {first + second!r})"
            )
        out = [run(c, distributions[c]) for c in channels]
    if fading:
        hue = distributions.get("hue")
        if hue is None or "chroma" not in channels:
            raise ValueError(
                "chromatic fading ('+fading') needs a 'hue' distribution and a 'chroma' channel; "
                f"have distributions {sorted(distributions)} and channels {channels}"
            )
        index = channels.index("chroma")
        out[index] = chromatic_fading(hue, out[index], eta=eta)
    return np.stack(out, axis=-1).astype(np.float32)
