"""Hook specifications of the ``colorize`` plugin system.

A plugin is a module (found through an entry point in the ``colorize`` group) that implements
one or more of the hooks below with ``@core.hookimpl``. Each hook receives a ``register``
callback; the plugin calls it once per object it provides. ``register`` checks the object's
type, refuses a name that is already taken (:class:`core.errors.DuplicateNameError`) and records
which distribution the object came from.

Everything that extends the toolkit comes through these hooks — methods, colour spaces,
decoders, transfers and backbones, and the applications built on them: ``colorize``
sub-commands, benchmarks, explain figures and training recipes (:mod:`core.extensions`). One
filter (``COLORIZE_PLUGINS`` / ``COLORIZE_DISABLE_PLUGINS``, :mod:`core.plugins`) and error
policy apply to all, and the core's own built-ins (:mod:`core._builtins`) register the same way.

Example
-------
.. code-block:: python

    import core

    @core.hookimpl
    def register_methods(register):
        register(MyColorizer())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = [
    "PROJECT_NAME",
    "hookimpl",
    "hookspec",
    "register_backbones",
    "register_benchmarks",
    "register_colorspaces",
    "register_commands",
    "register_decoders",
    "register_explainers",
    "register_methods",
    "register_training_recipes",
    "register_transfers",
]

#: pluggy project name, and the entry-point group plugins are published under.
PROJECT_NAME = "colorize"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_methods(register: Callable[[Any], None]) -> None:
    """Register colorization methods.

    Call ``register(colorizer)`` once per method, with a :class:`core.colorizer.Colorizer`
    whose ``name`` is unique among installed methods (e.g. ``"cnn-classification"``).
    Construction must not load models; do that lazily on first use.
    """


@hookspec
def register_colorspaces(register: Callable[[Any], None]) -> None:
    """Register colour spaces.

    Call ``register(space)`` once per colour space, with a :class:`core.colorspaces.ColorSpace`
    of unique ``name`` (``"lab"``, ``"huechroma"``, ...); methods refer to it by name.
    """


@hookspec
def register_decoders(register: Callable[[Any], None]) -> None:
    """Register decoders that turn per-pixel distributions into point estimates.

    Call ``register(decoder)`` once per decoder, with a :class:`core.decoders.Decoder` (a named
    callable from a :class:`core.distributions.Distribution` to values per pixel), e.g.
    ``"mode"``, ``"median"``, ``"expectation"``.
    """


@hookspec
def register_transfers(register: Callable[[Any], None]) -> None:
    """Register colour-transfer and alignment components.

    Call ``register(transfer)`` once per component, with a :class:`core.transfer.Transfer` (a
    named callable), e.g. ``"quantile-matching"``, ``"energy-minimisation"``, ``"reinhard"``.
    """


@hookspec
def register_backbones(register: Callable[[Any], None]) -> None:
    """Register shared feature extractors (pretrained networks installed once).

    Call ``register(backbone)`` once per backbone, with a :class:`core.backbones.Backbone` (a
    named ONNX graph from lightness to a feature pyramid) of unique ``name``, e.g.
    ``"efficientnet-lite0-gray"``. Methods whose heads were trained on it look it up by name
    (:func:`core.backbones.get_backbone`); its features are computed once per image.
    """


@hookspec
def register_commands(register: Callable[[Any], None]) -> None:
    """Register ``colorize`` sub-commands.

    Call ``register(command)`` once per sub-command, with a :class:`core.extensions.Command`
    whose ``name`` is the sub-command (``colorize <name> ...``) and whose ``target``
    (``"module:attribute"``, imported when the sub-command runs) has
    ``configure_parser(parser)`` and ``run(args) -> int``. The core's ``methods``, ``image`` and
    ``demo`` register here too, so a plugin cannot take their names.
    """


@hookspec
def register_benchmarks(register: Callable[[Any], None]) -> None:
    """Register sections of ``colorize bench``.

    Call ``register(benchmark)`` with a :class:`core.extensions.Benchmark` named after the
    plugin, whose ``target`` is ``benchmark(quick: bool) -> dict`` (same-run comparisons).
    """


@hookspec
def register_explainers(register: Callable[[Any], None]) -> None:
    """Register ``colorize explain`` figures.

    Call ``register(explainer)`` per method: a :class:`core.extensions.Explainer` named after it.
    """


@hookspec
def register_training_recipes(register: Callable[[Any], None]) -> None:
    """Register how ``colorize train`` and ``colorize export`` handle a method.

    Call ``register(recipe)`` once per trainable method, with a
    :class:`core.extensions.TrainingRecipe` named after the method whose ``target`` loads
    a :class:`training.recipe.Recipe` (imported only by the trainer: it needs torch).
    """
