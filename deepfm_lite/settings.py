"""Course-wide settings: quiz language, instructor mode, progress bars.

Change them in a notebook with ``deepfm_lite.settings.language = "zh"`` and so on; the
environment variables below give their starting values (the test run switches progress bars
off with ``DEEPFM_LITE_PROGRESS=0``).
"""

from __future__ import annotations

import os


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off", ""}


language: str = os.environ.get("DEEPFM_LITE_LANG", "en")
instructor: bool = _env_flag("DEEPFM_LITE_INSTRUCTOR", False)
progress: bool = _env_flag("DEEPFM_LITE_PROGRESS", True)
