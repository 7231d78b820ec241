"""The package's import graph: one model registry, and no import cycle.

The graph is read from the source with ``ast``: an edge ``a -> b`` for every ``import`` or
``from ... import`` in ``a`` that names module ``b`` of the package (``from . import x`` names
``x`` when it is a module, else the package it comes from).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import deepfm_lite
from deepfm_lite.models import MODELS, CTRModel, register

PACKAGE_DIR = Path(deepfm_lite.__file__).parent
CORE = ["lr", "fm", "dnn", "deepfm"]
BASELINES = ["fnn", "ipnn", "opnn", "pnn_star", "lr_dnn", "fm_dnn"]
# The modules behind models and training: no cycle through them, even via an import inside a
# function (a lazy import is a cycle that is merely postponed).
MODEL_STACK = {"deepfm_lite.models", "deepfm_lite.baselines", "deepfm_lite.training",
               "deepfm_lite.io", "deepfm_lite.layers", "deepfm_lite.data"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_nodes(tree: ast.Module):
    """Statements run on import: the module body, into if/try/with blocks, not into defs."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def import_graph(include_lazy: bool) -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = ast.walk(tree) if include_lazy else top_level_nodes(tree)
        targets = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]], nodes=None) -> list[str] | None:
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

    for node in sorted(nodes or graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_the_model_imports():
    graph = import_graph(include_lazy=True)
    assert "deepfm_lite.models" in graph["deepfm_lite.baselines"]
    assert "deepfm_lite.training" in graph["deepfm_lite.baselines"]
    assert "deepfm_lite.models" in graph["deepfm_lite.training"]
    assert "deepfm_lite.baselines" in graph["deepfm_lite"]


def test_no_import_cycle_when_the_package_loads():
    cycle = find_cycle(import_graph(include_lazy=False))
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_no_import_cycle_through_models_and_training_even_lazily():
    graph = import_graph(include_lazy=True)
    reachable = {name for name in graph if name in MODEL_STACK}
    cycle = find_cycle({name: graph[name] & MODEL_STACK for name in reachable})
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"
    assert "deepfm_lite.baselines" not in graph["deepfm_lite.models"]
    assert not {"deepfm_lite.baselines"} & graph["deepfm_lite.training"]


# Each snippet runs as the first import of the package in its interpreter. One interpreter runs
# them all, each after it has forgotten every deepfm_lite module: what a fresh process would do
# for the package's own imports (the subject here), without starting torch once per snippet.
# "bypass_init" snippets get an empty package object, so its __init__ never runs.
SNIPPETS = {
    "models first": ("import deepfm_lite.models; from deepfm_lite.models import MODELS; "
                     "print(','.join(MODELS))", False),
    "baselines first": ("import deepfm_lite.baselines; from deepfm_lite.models import MODELS; "
                        "print(','.join(MODELS))", False),
    "models alone": ("import sys, deepfm_lite.models as m; print(','.join(m.MODELS)); "
                     "print('deepfm_lite.baselines' in sys.modules, "
                     "'deepfm_lite.training' in sys.modules)", True),
    "baselines alone": ("import deepfm_lite.baselines; from deepfm_lite.models import MODELS; "
                        "print(','.join(MODELS))", True),
    "forgotten, then again": ("import deepfm_lite.models as m; m.MARK = 1; "
                              "[sys.modules.pop(k) for k in list(sys.modules) "
                              "if k.split('.')[0] == 'deepfm_lite']; "
                              "import deepfm_lite.models as again; print(hasattr(again, 'MARK'))",
                              False),
}
RUNNER = """
import contextlib, io, json, sys, traceback, types
import numpy, pandas, torch  # the package's heavy third-party imports, loaded once
package_dir, snippets = sys.argv[1], json.loads(sys.argv[2])
results = {}
for name, (code, bypass_init) in snippets.items():
    for module in [m for m in sys.modules if m.split(".")[0] == "deepfm_lite"]:
        del sys.modules[module]
    if bypass_init:
        package = types.ModuleType("deepfm_lite")
        package.__path__ = [package_dir]
        sys.modules["deepfm_lite"] = package
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            exec(code, {"sys": sys})
        results[name] = shown.getvalue().strip()
    except Exception:
        results[name] = "raised: " + traceback.format_exc()
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def first_imports() -> dict[str, str]:
    """What each snippet printed (or the traceback it raised)."""
    done = subprocess.run([sys.executable, "-c", RUNNER, str(PACKAGE_DIR), json.dumps(SNIPPETS)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_forgetting_the_package_imports_it_afresh(first_imports):
    """The runner's premise: a forgotten module is imported again, from its file."""
    assert first_imports["forgotten, then again"] == "False"


@pytest.mark.parametrize("name", ["models first", "baselines first"])
def test_every_model_module_imports_first(first_imports, name):
    assert first_imports[name].split(",") == CORE + BASELINES  # __init__ registers them all


def test_models_alone_registers_the_core_models_and_imports_no_baseline(first_imports):
    names, loaded = first_imports["models alone"].splitlines()
    assert names.split(",") == CORE
    assert loaded == "False False"


def test_baselines_alone_completes_the_one_registry_in_order(first_imports):
    assert first_imports["baselines alone"].split(",") == CORE + BASELINES


def test_the_package_and_its_modules_share_one_registry():
    from deepfm_lite import baselines, io, training

    assert list(MODELS) == CORE + BASELINES
    assert deepfm_lite.MODELS is MODELS
    assert io.build_model is deepfm_lite.build_model is training.build_model
    assert all(MODELS[name] is baselines.BASELINES[name] for name in BASELINES)


def test_register_refuses_a_taken_or_missing_name():
    class Impostor(CTRModel):
        name = "deepfm"

    class Nameless(CTRModel):
        pass

    with pytest.raises(ValueError, match="'deepfm' is taken by deepfm_lite.models.DeepFM"):
        register(Impostor)
    with pytest.raises(ValueError, match="Nameless needs a name of its own"):
        register(Nameless)
    assert list(MODELS) == CORE + BASELINES
