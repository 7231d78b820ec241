"""What the tests of the grading command share: small exercise notebooks and a course folder.

Exercise 09 asks for ``inner_products``; its solution is written in ``solutions/`` of a
temporary course folder, where the grader reads which cells hold answers and which checks must
run. Imported by ``test_progress.py``, ``test_grading_failures.py`` and
``test_grading_sandbox.py`` (pytest puts tests/ on sys.path for them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

IMPORTS = "import torch\nfrom deepfm_lite.course import checks"
ANSWER = """def inner_products(embeddings):
    ### BEGIN SOLUTION
    rows, cols = torch.triu_indices(embeddings.shape[1], embeddings.shape[1], offset=1)
    return (embeddings[:, rows] * embeddings[:, cols]).sum(dim=-1)
    ### END SOLUTION"""
ANSWERED = ANSWER.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION", "")
WRONG = ANSWER.replace("offset=1", "offset=0")  # keeps the i = j pairs: "Not yet", with a hint
UNANSWERED = """def inner_products(embeddings):
    # YOUR CODE HERE
    raise NotImplementedError()"""
CHECK = "feedback = checks.check_inner_product(inner_products)"
# Uses the answer: unanswered, it would fail with a knock-on error. It leaves a mark when run.
USE = """open("used.txt", "w").close()
pairs = inner_products(torch.randn(2, 4, 3))
assert pairs.shape == (2, 6)"""
MARK = 'open("marked.txt", "w").close()'  # leaves a mark when run
FAKE_PASS = 'print("✅ check_inner_product passed: matches the reference.")'


def notebook(*sources: str) -> nbformat.NotebookNode:
    """A notebook with a title cell, then one code cell per source; ids cell-0, cell-1, ..."""
    made = nbformat.v4.new_notebook()
    made.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                   "language": "python"}
    made.cells = [nbformat.v4.new_markdown_cell("# Exercise 9")]
    made.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    for index, cell in enumerate(made.cells):
        cell["id"] = f"cell-{index}"  # the same ids in the solution and the exercise
    return made


def make_course(root: Path, *names: str) -> Path:
    """``root`` with ``exercises/`` and ``solutions/``, the solution of exercise 09 under each
    of ``names`` (default ``09_pairs``)."""
    (root / "solutions").mkdir()
    (root / "exercises").mkdir()
    for name in names or ("09_pairs",):
        nbformat.write(notebook(IMPORTS, ANSWER, CHECK, USE), root / "solutions" / f"{name}.ipynb")
    return root


def write_notebook(path: Path, *sources: str) -> Path:
    """The notebook of ``sources`` saved at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(*sources), path)
    return path
