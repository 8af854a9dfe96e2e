"""Training pipeline of the colorize toolkit (needs the ``train`` extra: torch).

* :mod:`training.recipe` — what a method plugin provides (model, losses, export
  graphs), registered through the ``register_training_recipes`` hook.
* :mod:`training.data` — image folders, split files, CamVid pairs, augmentation.
* :mod:`training.trainer` — the generic trainer (checkpoints, validation, DDP).
* :mod:`training.cli` — ``colorize train METHOD --data DIR``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
