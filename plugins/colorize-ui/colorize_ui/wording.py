"""What the page says: decoder names for people, which method to pick, errors in its words.

The core speaks to Python callers (``reference=...``, ``decoder=``); the page speaks to
someone looking at buttons. :func:`user_message` rewrites the core's known messages into
the page's words and leaves the others as they are (they already name the file and what
to do, as ``colorize image`` prints them).
"""

from __future__ import annotations

import re

__all__ = [
    "DECODER_LABELS",
    "METHOD_ADVICE",
    "decoder_label",
    "method_advice",
    "user_message",
    "which_method",
]

#: Menu names of the decoders and of the decoder specs the shipped methods default to;
#: the technical name is the option's tooltip. Larsson et al. Sec. 3.3 and Table 5; Zhang
#: et al. 2016 Sec. 2.2 (annealed mean).
DECODER_LABELS = {
    "mode": "Most likely colour",
    "median": "Median colour",
    "expectation": "Average colour (softer)",
    "sample": "Random colour per pixel",
    "sample-once": "One random draw, whole photo",
    "annealed-mean": "Vivid average (annealed mean)",
    "hue=expectation+fading,chroma=median": "Balanced",
}

#: Which method to pick, for the methods installed (a key ending in ``*`` covers every
#: name it starts): the facts of ``colorize methods``' own note (docs/results.md), in the
#: page's words.
METHOD_ADVICE = (
    (
        "larsson",
        "the most accurate of the shipped methods, measured on BSDS500 test photos and on "
        "everyday photos",
    ),
    ("larsson-lab*", "the paper's other outputs (Lab histograms, joint histogram, L2), to compare"),
    ("exemplar", "when you have a colour photo of a similar scene: open it as the reference photo"),
    ("welsh", "copies colours from a reference photo, without a trained model"),
    ("pixcolor", "several different plausible colourings: set Samples above 1"),
    ("semantic", "several different samples and a segmentation; trained on street scenes"),
    ("cnn-*", "fast baselines (a few ms per photo) that beat gray only in places"),
)


def decoder_label(name: str) -> str:
    """The menu name of decoder ``name`` (its own name where the page has none)."""
    return DECODER_LABELS.get(name, name)


def _matches(key: str, name: str) -> bool:
    return name == key or (key.endswith("*") and name.startswith(key[:-1]))


def method_advice(name: str) -> str | None:
    """When to pick method ``name`` (the first matching entry of :data:`METHOD_ADVICE`)."""
    for key, advice in METHOD_ADVICE:
        if _matches(key, name):
            return advice
    return None


def which_method(names: list[str]) -> list[dict[str, object]]:
    """The "which method" note for the installed method ``names``: one entry per piece of
    advice, ``{"methods": [names it covers], "advice": text}``, in :data:`METHOD_ADVICE`'s
    order (a name is covered by its first matching entry)."""
    groups: dict[str, list[str]] = {key: [] for key, _ in METHOD_ADVICE}
    for name in names:
        for key, _ in METHOD_ADVICE:
            if _matches(key, name):
                groups[key].append(name)
                break
    return [
        {"methods": groups[key], "advice": advice} for key, advice in METHOD_ADVICE if groups[key]
    ]


_REWRITES = (
    (
        re.compile(r"method '([^']+)' needs a colour reference image \(reference=\.\.\.\)"),
        r"This method (\1) needs a reference photo: choose one with “Reference photo…”, "
        r"or pick another method",
    ),
    (
        re.compile(r"method '([^']+)' does not use a reference image; methods that do: (.*)"),
        r"This method (\1) takes no reference photo: remove it (×), or pick one of \2",
    ),
    (
        re.compile(r"method '([^']+)' does not offer decoder '([^']*)'; choose from: .*"),
        r"This method (\1) has no decoder ‘\2’: choose one in the Decoder menu",
    ),
    (
        re.compile(r"method '([^']+)' has no decoders; decoder= is not accepted"),
        r"This method (\1) has no decoder to choose: leave the Decoder menu empty",
    ),
    (
        re.compile(r"(.*): reference image is grayscale; a colour reference is needed"),
        r"\1: this reference photo is grayscale; choose a colour photo as the reference",
    ),
)


def user_message(message: str) -> str:
    """``message`` in the page's words where it is one of the core's known messages."""
    for pattern, replacement in _REWRITES:
        if pattern.search(message):
            return pattern.sub(replacement, message, count=1)
    return message
