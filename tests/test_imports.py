"""The package's architecture, read from its source: four wings and the rules between them.

The model library (layers, models, training, checkpoint, predict, experiments) and the data
pipeline (data) stand alone; the course aids (course) and the command line (cli) use them, never
the reverse. The import graph is read with ``ast``: an edge ``a -> b`` for every ``import`` or
``from ... import`` in ``a`` that names module ``b`` of the package (``from . import x`` names
``x`` when it is a module, else the package it comes from).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import deepfm_lite
from deepfm_lite.models import MODELS, CTRModel, register

PACKAGE_DIR = Path(deepfm_lite.__file__).parent
REPO = PACKAGE_DIR.parent
CORE = ["lr", "fm", "dnn", "deepfm"]
BASELINES = ["fnn", "ipnn", "opnn", "pnn_star", "lr_dnn", "fm_dnn"]
WINGS = ("deepfm_lite.course", "deepfm_lite.cli")
DATA_MAY_NOT_IMPORT = ("deepfm_lite.models", "deepfm_lite.training", "deepfm_lite.checkpoint",
                       "deepfm_lite.predict", "deepfm_lite.experiments")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}


def top_level_nodes(tree: ast.Module):
    """Statements run on import: the module body, into if/try/with blocks, not into defs."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def imported(name: str, path: Path, node: ast.ImportFrom) -> tuple[str, list[tuple[str, str]]]:
    """The module ``node`` imports from, and each (imported name, full dotted name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        anchor = package
        for _ in range(node.level - 1):
            anchor = anchor.rpartition(".")[0]
        base = f"{anchor}.{base}" if base else anchor
    return base, [(alias.name, f"{base}.{alias.name}") for alias in node.names]


def import_graph(include_lazy: bool) -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = ast.walk(tree) if include_lazy else top_level_nodes(tree)
        targets = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base, names = imported(name, path, node)
                targets.update(full if full in MODULES else base for _, full in names)
        graph[name] = {t for t in targets if t in MODULES and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def package_level(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between the package's top-level entries (``deepfm_lite.data.schema`` counts as
    ``deepfm_lite.data``): a cycle here is a circle between two wings or floors."""
    def entry(name: str) -> str:
        return ".".join(name.split(".")[:2])

    folded: dict[str, set[str]] = {}
    for source, targets in graph.items():
        if source == "deepfm_lite":
            continue  # the face imports everything it re-exports
        folded.setdefault(entry(source), set()).update(
            entry(t) for t in targets if entry(t) != entry(source) and t != "deepfm_lite")
    return folded


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_lazy_and_relative_imports():
    lazy = import_graph(include_lazy=True)
    assert "deepfm_lite.models.registry" in lazy["deepfm_lite.models.linear"]
    assert "deepfm_lite.training.loop" in lazy["deepfm_lite.training.distributed"]
    assert "deepfm_lite.course.progress" in lazy["deepfm_lite.cli.main"]  # inside a function
    assert "deepfm_lite.course.progress" not in import_graph(False)["deepfm_lite.cli.main"]


def test_no_import_cycle_between_modules_even_lazily():
    cycle = find_cycle(import_graph(include_lazy=True))
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_no_circle_between_the_top_level_entries():
    cycle = find_cycle(package_level(import_graph(include_lazy=True)))
    assert cycle is None, f"circle between parts of the package: {' -> '.join(cycle)}"


def test_the_data_pipeline_imports_no_model_training_or_file_of_a_model():
    graph = import_graph(include_lazy=True)
    wrong = sorted(f"{source} -> {target}" for source, targets in graph.items()
                   if source.startswith("deepfm_lite.data")
                   for target in targets if target.startswith(DATA_MAY_NOT_IMPORT))
    assert not wrong


def test_the_library_never_imports_the_course_or_the_command_line():
    graph = import_graph(include_lazy=True)
    wrong = sorted(f"{source} -> {target}" for source, targets in graph.items()
                   if not source.startswith(WINGS) and source != "deepfm_lite.__main__"
                   for target in targets if target.startswith(WINGS))
    assert not wrong


def test_the_course_never_imports_the_command_line():
    graph = import_graph(include_lazy=True)
    assert not [(s, t) for s, ts in graph.items() if s.startswith("deepfm_lite.course")
                for t in ts if t.startswith("deepfm_lite.cli")]


def test_layers_and_models_never_import_training():
    graph = import_graph(include_lazy=True)
    assert not [(s, t) for s, ts in graph.items()
                if s.startswith(("deepfm_lite.layers", "deepfm_lite.models"))
                for t in ts if t.startswith("deepfm_lite.training")]


def test_importing_the_package_loads_no_course_aid_or_command_line():
    code = ("import deepfm_lite, sys; print(sorted(m for m in sys.modules "
            "if m.startswith(('deepfm_lite.course', 'deepfm_lite.cli'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_the_top_level_stays_small():
    entries = [p for p in PACKAGE_DIR.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 12, sorted(p.name for p in entries)
    too_long = {name: n for name, path in MODULES.items()
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450}
    assert not too_long


# ---- private names ------------------------------------------------------------------------------
def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_crossings(path: Path, name: str, modules: dict[str, Path]) -> list[str]:
    """``from m import _x`` and ``m._x`` where ``m`` is another module of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, str] = {}  # local name -> the package module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base, names = imported(name, path, node)
            if not base.startswith("deepfm_lite") or base == name:
                continue
            for (alias, full), spelled in zip(names, node.names):
                if full in modules:
                    bound[spelled.asname or alias] = full
                elif is_private(alias):
                    found.append(f"line {node.lineno}: from {base} import {alias}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("deepfm_lite") and alias.asname:
                    bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and is_private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in bound
                and bound[node.value.id] != name):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_private_name_check_finds_both_forms(tmp_path):
    probe = PACKAGE_DIR / "course" / "explore.py"
    fake = tmp_path / "fake.py"
    fake.write_text("from deepfm_lite.data.schema import _scale\nfrom ..data import schema\n"
                    "schema._moments()\n")
    found = private_crossings(fake, "deepfm_lite.course.explore", MODULES)
    assert found == ["line 1: from deepfm_lite.data.schema import _scale",
                     "line 3: schema._moments"]
    assert private_crossings(probe, "deepfm_lite.course.explore", MODULES) == []


def test_no_private_name_crosses_a_module_border():
    files = {name: path for name, path in MODULES.items()}
    for folder in ("scripts", "benchmarks", "tests"):
        files.update({f"{folder}.{p.stem}": p for p in (REPO / folder).rglob("*.py")})
    wrong = {name: found for name, path in files.items()
             if (found := private_crossings(path, name, MODULES))}
    assert not wrong


# ---- one registry --------------------------------------------------------------------------------
def test_the_registry_lists_every_model_in_the_papers_order():
    assert list(MODELS) == CORE + BASELINES
    assert deepfm_lite.MODELS is MODELS


def test_every_model_module_imported_first_completes_the_registry():
    code = ("import importlib, sys; importlib.import_module(sys.argv[1]); "
            "from deepfm_lite.models import MODELS; print(','.join(MODELS))")
    for first in ("deepfm_lite.models.pnn", "deepfm_lite.models.registry",
                  "deepfm_lite.checkpoint", "deepfm_lite.training"):
        done = subprocess.run([sys.executable, "-c", code, first], capture_output=True,
                              text=True, check=True)
        assert done.stdout.strip().split(",") == CORE + BASELINES, first


def test_register_refuses_a_taken_or_missing_name():
    class Impostor(CTRModel):
        name = "deepfm"

    class Nameless(CTRModel):
        pass

    with pytest.raises(ValueError, match="'deepfm' is taken by deepfm_lite.models.deep.DeepFM"):
        register(Impostor)
    with pytest.raises(ValueError, match="Nameless needs a name of its own"):
        register(Nameless)
    assert list(MODELS) == CORE + BASELINES


def test_every_folder_of_modules_is_a_regular_package():
    """A folder of modules without ``__init__.py`` is a namespace package, which setuptools'
    package discovery leaves out of a non-editable install."""
    folders = {path.parent for path in PACKAGE_DIR.rglob("*.py")}
    assert sorted(str(f.relative_to(REPO)) for f in folders
                  if not (f / "__init__.py").exists()) == []
