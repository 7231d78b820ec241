"""Re-execute course notebooks in fresh kernels and save them with their outputs.

    python scripts/run_notebooks.py                 # notebooks/ and solutions/
    python scripts/run_notebooks.py notebooks/02_fm_math.ipynb

Each notebook runs from its own folder with progress bars off, English quizzes and instructor mode
off, the way `pytest` runs them, so the saved outputs are what nbval compares against. After saving
solutions/, regenerate exercises/ with `python scripts/make_exercises.py`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = ("notebooks", "solutions")


def jupyterlab_kernelspec() -> dict[str, str]:
    """The kernelspec JupyterLab writes when it opens a notebook with the python3 kernel.

    Saving exactly this keeps a notebook unmodified when a learner opens it (JupyterLab would
    otherwise rewrite it and autosave a change to a tracked file).
    """
    spec = KernelSpecManager().get_kernel_spec("python3")
    return {"display_name": spec.display_name, "language": spec.language, "name": "python3"}


def execute(path: Path, timeout: int = 600) -> float:
    """Run ``path`` top to bottom in a fresh kernel from its folder; save it; return seconds."""
    notebook = nbformat.read(path, as_version=4)
    # The settings nbval runs with: no progress bars, English quizzes, instructor mode off.
    os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   record_timing=False,  # no per-cell timestamps: they change every run
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    notebook.metadata["kernelspec"] = jupyterlab_kernelspec()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timestamps of an earlier run
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(p for folder in DEFAULT_FOLDERS
                                 for p in (ROOT / folder).glob("[0-9]*.ipynb"))
    for path in paths:
        seconds = execute(path.resolve())
        print(f"{seconds:6.1f} s  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
