"""Which notebooks are the course's own: ``NN_name.ipynb`` in ``notebooks/``, ``exercises/`` and
``solutions/``.

Anything else is the learner's: ``Untitled.ipynb`` from File > New, JupyterLab's copies such as
``05_deepfm-Copy1.ipynb``, and every notebook in ``notebooks/scratch/``. The tests, the script
that re-saves the notebooks and the grader leave those alone.
"""

from __future__ import annotations

import re
from pathlib import Path

COURSE_NOTEBOOK = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")
SCRATCH = "scratch"  # notebooks/scratch/: the learner's folder, ignored by git and the tests


def is_course_notebook(path: Path | str) -> bool:
    """Whether ``path`` names one of the course's notebooks (by its name, outside scratch/)."""
    path = Path(path)
    return COURSE_NOTEBOOK.fullmatch(path.name) is not None and SCRATCH not in path.parts


def course_notebooks(folder: Path | str) -> list[Path]:
    """The course's notebooks in ``folder``, in course order (their names start with NN_)."""
    return sorted(path for path in Path(folder).glob("*.ipynb") if is_course_notebook(path))


__all__ = ["COURSE_NOTEBOOK", "SCRATCH", "course_notebooks", "is_course_notebook"]
