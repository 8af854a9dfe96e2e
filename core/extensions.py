"""What plugins register besides colour science: sub-commands, benchmarks, explainers and
training recipes.

Each is a small named record whose ``target`` says where the implementation lives,
``"package.module:attribute"``, imported only when it is used (:meth:`Extension.load`):
registering a sub-command does not import its dependencies (``av``, ``starlette``,
``torch`` ...), so ``colorize --help`` and ``import core`` stay light. A plugin registers
them through the hooks of :mod:`core.hookspecs`, exactly like methods::

    import core
    from core.extensions import Command

    @core.hookimpl
    def register_commands(register):
        register(Command("hello", "my_plugin.cli:hello", help="say hello"))

where ``my_plugin.cli.hello`` has ``configure_parser(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["Benchmark", "Command", "Explainer", "Extension", "TrainingRecipe"]


@dataclass(frozen=True)
class Extension:
    """A named extension whose implementation is imported on first use.

    Attributes
    ----------
    name : str
        Unique among extensions of its kind (a sub-command name, a method name ...).
    target : str or object
        ``"module:attribute"`` (dots allowed in the attribute: ``"m:obj.method"``), or the
        object itself.
    help : str
        One line for listings (``colorize --help``).
    install : str
        What to install when importing ``target`` fails for a missing module, e.g.
        ``"pip install 'colorize-toolkit[train]'"``; shown in the error.
    """

    name: str
    target: Any
    help: str = ""
    install: str = ""

    def load(self) -> Any:
        """The implementation: ``target`` imported (a string) or as given.

        Raises
        ------
        ImportError
            Its module, or a module it needs, is not installed (the message says what to
            install when :attr:`install` is set).
        AttributeError
            The module has no such attribute.
        """
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attribute = self.target.partition(":")
        try:
            obj = importlib.import_module(module_name)
        except ImportError as exc:
            if not self.install:
                raise
            raise ImportError(f"{exc}; install it with `{self.install}`") from exc
        for part in attribute.split(".") if attribute else ():
            obj = getattr(obj, part)
        return obj


@dataclass(frozen=True)
class Command(Extension):
    """A ``colorize`` sub-command (hook :func:`core.hookspecs.register_commands`).

    ``target`` loads an object with ``configure_parser(parser: argparse.ArgumentParser)``
    and ``run(args: argparse.Namespace) -> int`` (the exit code).
    """


@dataclass(frozen=True)
class Benchmark(Extension):
    """A plugin's section of ``colorize bench`` (hook ``register_benchmarks``).

    ``target`` loads a callable ``benchmark(quick: bool) -> dict`` returning
    ``{"comparisons": {...}, "skipped": [...], "notes": [...]}`` (see the bench plugin).
    """


@dataclass(frozen=True)
class Explainer(Extension):
    """The figure ``colorize explain`` draws for one method (hook ``register_explainers``).

    ``name`` is the method's name; ``target`` loads
    ``explain(image, out_path, method, *, pixels=4, decoder=None, dpi=120) -> Path``.
    """


@dataclass(frozen=True)
class TrainingRecipe(Extension):
    """How ``colorize train`` / ``export`` train and export one method (hook
    ``register_training_recipes``).

    ``name`` is the method's name; ``target`` loads a :class:`training.recipe.Recipe`
    (it imports torch, so only the trainer loads it).
    """
