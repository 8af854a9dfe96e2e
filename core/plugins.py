"""Plugin discovery and the registry of methods, colour spaces, decoders and transfers.

Plugins are modules published under the ``colorize`` entry-point group. They are loaded lazily
(on the first registry access), once, one entry point at a time: a plugin that fails to import
or to register is reported with its name, version and error, and the others still load.
``COLORIZE_PLUGINS`` (allow-list of entry-point names), ``COLORIZE_DISABLE_PLUGINS``
(block-list) and ``COLORIZE_STRICT_PLUGINS=1`` (a broken plugin raises
:class:`core.errors.PluginError`): docs/plugins.md "One filter".

The core's own built-ins (:mod:`core._builtins`) and the plugins' sub-commands, benchmarks,
explain figures and training recipes (:mod:`core.extensions`) register through the same hooks,
so one filter and one error policy govern them all.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from core import hookspecs, lookup
from core.backbones import Backbone
from core.colorizer import Colorizer, MethodInfo
from core.colorspaces.base import ColorSpace
from core.errors import DuplicateNameError, PluginError, UnknownMethodError, UnknownNameError
from core.extensions import Benchmark, Command, Explainer, TrainingRecipe

__all__ = ["KINDS", "PluginFailure", "Registry", "RegistryEntry", "get_registry", "reset_registry"]

#: Registry kinds and the hook that fills each.
KINDS = {
    "method": "register_methods",
    "colorspace": "register_colorspaces",
    "decoder": "register_decoders",
    "transfer": "register_transfers",
    "backbone": "register_backbones",
    "command": "register_commands",
    "benchmark": "register_benchmarks",
    "explainer": "register_explainers",
    "recipe": "register_training_recipes",
}

#: The type each kind must register, as named in the error (other kinds: named callables).
_TYPES = {
    "method": (Colorizer, "core.Colorizer instance"),
    "colorspace": (ColorSpace, "ColorSpace instance"),
    "backbone": (Backbone, "core.backbones.Backbone"),
    "command": (Command, "core.extensions.Command"),
    "benchmark": (Benchmark, "core.extensions.Benchmark"),
    "explainer": (Explainer, "core.extensions.Explainer"),
    "recipe": (TrainingRecipe, "core.extensions.TrainingRecipe"),
}

BUILTIN_PLUGIN = "core"

#: This project's own distributions: the core and the plugins shipped in ``plugins/``.
#: They load first, so a name one of them registers cannot be taken by another plugin.
FIRST_PARTY = frozenset(
    """colorize-toolkit colorize-backbone colorize-bench colorize-cnn colorize-devkit
    colorize-eval colorize-exemplar colorize-larsson colorize-pixcolor colorize-plugin-example
    colorize-ray colorize-semantic colorize-ui colorize-video""".split()
)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or could not register."""

    name: str
    distribution: str
    version: str
    stage: str
    error: str

    def __str__(self) -> str:
        where = f"{self.distribution} {self.version}"
        return f"plugin {self.name!r} ({where}) failed to {self.stage}: {self.error}"


@dataclass
class RegistryEntry:
    """One registered object and where it came from."""

    obj: Any
    plugin: str
    distribution: str
    version: str


def _first_party(distribution: str) -> bool:
    """``distribution`` is one of :data:`FIRST_PARTY` (names compared as pip does)."""
    return re.sub(r"[-_.]+", "-", distribution).lower() in FIRST_PARTY


def _dist_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    """``(distribution name, version)`` of an entry point (``"?"`` where unknown)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"] or "?", dist.version or "?"


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _check(kind: str, obj: Any) -> str:
    """Type-check a registered object and return its name."""
    expected, label = _TYPES.get(kind, (None, "named callable"))
    if not (isinstance(obj, expected) if expected else callable(obj)):
        raise TypeError(f"{KINDS[kind]} expects a {label}, got {obj!r}")
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{kind} {obj!r} has no non-empty string 'name'")
    return name


@dataclass
class Registry:
    """Everything the installed plugins registered.

    Use :func:`get_registry` for the process-wide instance; tests may build
    their own with ``Registry(load_entry_points=False)`` and :meth:`add_plugin`.
    """

    load_entry_points: bool = True
    strict: bool | None = None
    failures: list[PluginFailure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._loaded = False
        self._entries: dict[str, dict[str, RegistryEntry]] = {kind: {} for kind in KINDS}
        self._plugins: dict[str, RegistryEntry] = {}  # plugin name -> its module
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        if self.strict is None:
            self.strict = os.environ.get("COLORIZE_STRICT_PLUGINS", "") not in ("", "0")

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            # Lazy like the entry points: the built-in decoders and transfers (and the
            # bins they import) load on the first registry access, not on `import core`.
            from core import _builtins

            self.add_plugin(_builtins, name=BUILTIN_PLUGIN, distribution="colorize-toolkit")
            if self.load_entry_points:
                self._load_entry_points()
            self._loaded = True

    def _load_entry_points(self) -> None:
        """Load the ``colorize`` entry points, first-party ones (:data:`FIRST_PARTY`) first, each
        group by name: a name one of them registers stays theirs, and a third-party plugin that
        registers it too is refused as a whole, with one warning naming both distributions."""
        allow = _env_list("COLORIZE_PLUGINS")
        block = set(_env_list("COLORIZE_DISABLE_PLUGINS") or ())
        owners: dict[str, str] = {BUILTIN_PLUGIN: "colorize-toolkit (the core)"}
        found = [(ep, *_dist_of(ep)) for ep in metadata.entry_points(group=hookspecs.PROJECT_NAME)]
        found.sort(key=lambda item: (not _first_party(item[1]), item[0].name))
        for ep, dist_name, version in found:
            if (allow is not None and ep.name not in allow) or ep.name in block:
                continue
            owner = f"{dist_name} {version}"
            if ep.name in owners:
                if owners[ep.name] != owner:
                    taken = f"is already taken by {owners[ep.name]}"
                    error = DuplicateNameError(f"the entry-point name {ep.name!r} {taken}")
                    self._fail(ep.name, dist_name, version, "load", error)
                continue
            owners[ep.name] = owner
            try:
                module = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: skip the plugin
                self._fail(ep.name, dist_name, version, "import", exc)
                continue
            self.add_plugin(module, name=ep.name, distribution=dist_name, version=version)

    def _fail(self, name: str, dist: str, version: str, stage: str, exc: BaseException) -> None:
        failure = PluginFailure(name, dist, version, stage, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        if self.strict:
            raise PluginError(str(failure)) from exc
        warnings.warn(f"{failure}; skipped", RuntimeWarning, stacklevel=4)
        if os.environ.get("COLORIZE_DEBUG"):
            traceback.print_exception(exc)

    def add_plugin(
        self, module: Any, *, name: str, distribution: str = "?", version: str | None = None
    ) -> bool:
        """Register a plugin module (or object) and run its registration hooks.

        Returns ``True`` on success. On failure the plugin's partial registrations are rolled
        back and the failure recorded in :attr:`failures` (or raised in strict mode).
        """
        if version is None:
            try:
                version = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                version = "?"
        with self._lock:
            if name in self._plugins:
                raise DuplicateNameError(f"a plugin named {name!r} is already registered")
            try:
                self._pm.register(module, name=name)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: skip the plugin
                self._fail(name, distribution, version, "register", exc)
                return False
            added: list[tuple[str, str]] = []
            try:
                for kind, hook_name in KINDS.items():
                    register = self._make_register(kind, name, distribution, version, added)
                    for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                        if impl.plugin is module:
                            impl.function(register=register)
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: skip the plugin
                for kind, obj_name in added:  # undo the partial registrations
                    self._entries[kind].pop(obj_name, None)
                self._pm.unregister(module)
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._fail(name, distribution, version, "register", exc)
                return False
            self._plugins[name] = RegistryEntry(module, name, distribution, version)
            return True

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and everything it registered."""
        with self._lock:
            record = self._plugins.pop(name, None)
            if record is None:
                raise KeyError(f"no plugin named {name!r}")
            for entries in self._entries.values():
                for key in [k for k, e in entries.items() if e.plugin == name]:
                    del entries[key]
            self._pm.unregister(record.obj)

    def _make_register(
        self, kind: str, plugin: str, dist: str, version: str, added: list[tuple[str, str]]
    ) -> Callable[[Any], None]:
        def register(obj: Any) -> None:
            obj_name = _check(kind, obj)
            existing = self._entries[kind].get(obj_name)
            if existing is not None:
                owner = f"{existing.distribution} {existing.version}"
                if _first_party(existing.distribution):
                    owner += ", shipped with colorize-toolkit"
                raise DuplicateNameError(
                    f"{kind} {obj_name!r} from plugin {plugin!r} is already registered by "
                    f"plugin {existing.plugin!r} ({owner})"
                )
            self._entries[kind][obj_name] = RegistryEntry(obj, plugin, dist, version)
            added.append((kind, obj_name))

        register.__doc__ = f"Register one {kind} (see core.hookspecs.{KINDS[kind]})."
        return register

    def entries(self, kind: str) -> dict[str, RegistryEntry]:
        """All entries of ``kind`` (``"method"``, ``"colorspace"``, ...), by name."""
        if kind not in KINDS:
            raise ValueError(f"unknown registry kind {kind!r}; expected one of {sorted(KINDS)}")
        self._ensure_loaded()
        return dict(self._entries[kind])

    def get(self, kind: str, name: str) -> Any:
        """The registered object, or :class:`UnknownNameError` with a suggestion."""
        entries = self.entries(kind)
        try:
            return entries[name].obj
        except (KeyError, TypeError):
            if kind == "method":
                raise UnknownMethodError(name, entries) from None
            raise UnknownNameError(name, entries, kind=kind) from None

    def method_info(self, name: str) -> MethodInfo:
        """:class:`MethodInfo` for an installed method."""
        colorizer: Colorizer = self.get("method", name)
        entry = self._entries["method"][name]
        same = "name description citation capabilities colorspace working_size vividness".split()
        return MethodInfo(
            plugin=entry.distribution,
            version=entry.version,
            model_files=tuple(colorizer.model_files()),
            decoders=tuple(colorizer.decoders),
            **{key: getattr(colorizer, key) for key in same},
        )

    def plugins(self) -> list[dict[str, str]]:
        """Loaded plugins: name, distribution and version."""
        self._ensure_loaded()
        return [
            {"name": p.plugin, "distribution": p.distribution, "version": p.version}
            for p in self._plugins.values()
        ]

    def names(self, kind: str) -> Iterable[str]:
        return sorted(self.entries(kind))


_registry: Registry | None = None
_registry_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry (plugins load on first use)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry()
        return _registry


def reset_registry(registry: Registry | None = None) -> Registry | None:
    """Replace the process-wide registry (``None``: rebuild lazily); returns the old one."""
    global _registry
    with _registry_lock:
        old, _registry = _registry, registry
        return old


# Decoders, transfers and backbones resolve names through core.lookup, not this module.
lookup.install(get_registry)
