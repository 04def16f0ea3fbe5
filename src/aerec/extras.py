"""Optional dependencies: imported only where a feature needs them.

TensorBoard logging, hyper-parameter search and the peers (other libraries' recommenders)
pull in packages most runs never use, so they are extras of the ``aerec`` distribution
(``pip install 'aerec[tensorboard]'``, ``'aerec[tune]'``, ``'aerec[peers]'``).
Asking for such a feature without its extra is a user error, reported in one line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aerec.errors import ConfigError

EXTRAS: dict[str, tuple[str, str]] = {
    "tensorboard": ("torch.utils.tensorboard", "tensorboard"),
    "tune": ("optuna", "optuna"),
    "peers": ("surprise", "scikit-surprise"),
    "peers/myfm": ("myfm", "myfm"),
}
"""extra name (as in pyproject.toml; ``extra/module`` for a second module of one extra) ->
(the module to import, the package that provides it)."""


def require(extra: str, feature: str) -> ModuleType:
    """Import the module behind ``extra``; a ConfigError naming the install command if missing."""
    module, package = EXTRAS[extra]
    extra = extra.split("/")[0]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{feature} needs {package}, which is not installed; "
            f"install it with pip install 'aerec[{extra}]'"
        ) from None
