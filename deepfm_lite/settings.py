"""Course-wide settings: quiz language, instructor mode, progress bars (and how they draw).

Change them in a notebook with ``deepfm_lite.settings.language = "zh"`` and so on; the
environment variables below give their starting values (the test run switches progress bars
off with ``DEEPFM_LITE_PROGRESS=0``).
"""

from __future__ import annotations

import os
import sys


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off", ""}


language: str = os.environ.get("DEEPFM_LITE_LANG", "en")
instructor: bool = _env_flag("DEEPFM_LITE_INSTRUCTOR", False)
progress: bool = _env_flag("DEEPFM_LITE_PROGRESS", True)


def in_jupyter_kernel() -> bool:
    """Whether this process is a Jupyter kernel (a notebook's cells run in it)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_bar(iterable=None, **options):
    """A tqdm bar drawn as text: in a notebook on stdout, elsewhere on stderr.

    Never a widget bar: a widget lives only in the kernel that drew it, so a notebook saved
    with one shows "Error displaying widget: model not found" when it is opened again. A text
    bar saves as text. ``options`` are tqdm's (``total``, ``desc``, ``disable``, ...).
    """
    from tqdm.std import tqdm  # imported here: notebooks that never train skip its start-up

    options.setdefault("file", sys.stdout if in_jupyter_kernel() else sys.stderr)
    return tqdm(iterable, **options)

