"""The repository's scripts (``scripts/``, ``datasets/make_samples.py``, the root
``conftest.py``) are files, not package modules; the tests load them with :func:`load_script`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """Run the file ``relative`` (to the repository root) as a fresh module and return it.

    It is registered in ``sys.modules`` under ``repo_script_<stem>`` while it runs, since a
    dataclass defined in it looks its module up there.
    """
    path = REPO / relative
    name = f"repo_script_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
