"""Re-execute course notebooks in fresh kernels and save them with their outputs.

    python scripts/run_notebooks.py                 # notebooks/ and solutions/
    python scripts/run_notebooks.py notebooks/02_fm_math.ipynb
    python scripts/run_notebooks.py --time notebooks/0*.ipynb   # time them, save nothing
    python scripts/run_notebooks.py --time --busy notebooks/00_course_map.ipynb  # beside a busy
                                                                  # process, as on a busy laptop

With ``--time`` every notebook runs the same way but nothing is written; the script prints a
Markdown table of wall-clock seconds per notebook (the table in the README comes from it; run it
on a quiet machine, since other programs on the same cores slow every notebook down).

Each notebook runs from its own folder with progress bars off, English quizzes and instructor mode
off, the way `pytest` runs them, so the saved outputs are what nbval compares against. After saving
solutions/, regenerate exercises/ with `python scripts/make_exercises.py`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from deepfm_lite.course.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = ("notebooks", "solutions", "zh/notebooks")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def jupyterlab_kernelspec() -> dict[str, str]:
    """The kernelspec JupyterLab writes when it opens a notebook with the python3 kernel.

    Saving exactly this keeps a notebook unmodified when a learner opens it (JupyterLab would
    otherwise rewrite it and autosave a change to a tracked file).
    """
    spec = KernelSpecManager().get_kernel_spec("python3")
    return {"display_name": spec.display_name, "language": spec.language, "name": "python3"}


def execute(path: Path, timeout: int = 600, save: bool = True) -> float:
    """Run ``path`` top to bottom in a fresh kernel from its folder; save it (unless ``save`` is
    False); return the wall-clock seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    # The settings nbval runs with: no progress bars, English quizzes, instructor mode off.
    os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   record_timing=False,  # no per-cell timestamps: they change every run
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    if save:
        notebook.metadata["kernelspec"] = jupyterlab_kernelspec()
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)  # timestamps of an earlier run
        drop_widget_views(notebook)
        nbformat.write(notebook, path)
    return seconds


def drop_widget_views(notebook: nbformat.NotebookNode) -> int:
    """Keep only the plain-text stand-in of every widget output; return how many were dropped.

    A widget lives in the kernel that drew it: reopened without that kernel, JupyterLab shows
    "Error displaying widget: model not found" where it was. The quiz's stand-in says where its
    buttons appear when the cell runs."""
    dropped = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("data", {}).pop(WIDGET_VIEW, None) is not None:
                dropped += 1
    notebook.metadata.pop("widgets", None)
    return dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    parser.add_argument("--time", action="store_true",
                        help="save nothing; print a Markdown table of seconds per notebook")
    parser.add_argument("--busy", action="store_true",
                        help="with --time: keep one other process busy meanwhile, as a "
                             "computer doing something else would")
    args = parser.parse_args(argv)
    if args.busy and not args.time:
        parser.error("--busy goes with --time")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    paths = args.paths or [p for folder in DEFAULT_FOLDERS for p in course_notebooks(ROOT / folder)]
    if args.time:
        print("| notebook | seconds (wall clock, fresh kernel) |\n|---|---|")
    try:
        for path in paths:
            seconds = execute(path.resolve(), save=not args.time)
            print(f"| `{path.stem}` | {seconds:.1f} |" if args.time
                  else f"{seconds:6.1f} s  {path}", flush=True)
    finally:
        if busy is not None:
            busy.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
