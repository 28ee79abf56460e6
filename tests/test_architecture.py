"""The layers of explorer/ (ARCHITECTURE.md): imports go downward only, no cycle, the engine never imports Streamlit
or the serving code, no engine module grows past 450 lines, and nothing flat sits beside app.py.

The graph is read from the source with ast (every import, also those inside functions), so a test here fails
on the code as written, not on what happens to be imported at run time."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"
# Lower layers first; a module may import its own layer's modules and those of the layers before it.
LAYERS = [
    ("data",),
    ("model",),
    ("training",),
    ("analysis",),
    ("experiments",),
    ("readings", "figures"),
    ("serving",),
    ("ui",),
    ("app", "__main__"),
]
ENGINE = {"data", "model", "training", "analysis", "experiments", "readings", "figures"}
ENTRY_POINTS = {"app.py", "__init__.py", "__main__.py"}
FORBIDDEN_IN_ENGINE = ("streamlit",)
MAX_ENGINE_LINES = 450


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """Every absolute module name a file imports (relative imports resolved against its package)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names}  # `from . import x` imports module x
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package tree it imports (only names that are modules there)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    return {m: {i for i in imports_of(p, root) if i in files and i != m} for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def layer_of(module: str) -> str:
    """'explorer.model.network' -> 'model'; 'explorer.app' -> 'app'; 'explorer' -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rank(layer: str) -> int:
    return next(i for i, group in enumerate(LAYERS) if layer in group)


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs that climb back up a layer or cross between two layers of the same rank."""
    bad = []
    for m, targets in graph.items():
        if not layer_of(m):
            continue
        for t in targets:
            a, b = layer_of(m), layer_of(t)
            if b and a != b and rank(b) >= rank(a):
                bad.append((m, t))
    return sorted(bad)


def engine_violations(root: Path) -> list[tuple[str, str]]:
    """Engine modules importing Streamlit, or the serving or UI layers."""
    bad = []
    for p in root.rglob("*.py"):
        m = module_name(p, root)
        if layer_of(m) not in ENGINE:
            continue
        for i in imports_of(p, root):
            top = i.split(".")[0]
            if top in FORBIDDEN_IN_ENGINE or (layer_of(i) in ("serving", "ui") and i.startswith("explorer.")):
                bad.append((m, i))
    return sorted(set(bad))


def test_every_package_is_a_known_layer_and_nothing_flat_sits_beside_the_entry_points():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == {layer for group in LAYERS for layer in group} - {"app", "__main__"}
    flat = {p.name for p in PACKAGE.glob("*.py")}
    assert flat == ENTRY_POINTS
    for p in packages:  # each says what lives there and what it may import
        doc = ast.get_docstring(ast.parse((PACKAGE / p / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), p


def test_there_is_no_import_cycle():
    assert find_cycle(import_graph(PACKAGE)) is None


def test_layers_import_downward_only():
    assert upward_imports(import_graph(PACKAGE)) == []


def test_the_engine_never_imports_streamlit_or_the_serving_code():
    assert engine_violations(PACKAGE) == []


def test_no_engine_module_is_over_450_lines():
    sizes = {
        module_name(p, PACKAGE): len(p.read_text().splitlines())
        for p in PACKAGE.rglob("*.py")
        if layer_of(module_name(p, PACKAGE)) in ENGINE
    }
    assert {m: n for m, n in sizes.items() if n > MAX_ENGINE_LINES} == {}


@pytest.fixture
def tree(tmp_path):
    """A copy of explorer/'s sources to break on purpose."""
    root = tmp_path / "explorer"
    for p in PACKAGE.rglob("*.py"):
        target = root / p.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(p.read_text())
    return root


def add_import(path: Path, line: str) -> None:
    text = path.read_text()
    docstring_end = text.index('"""', 3) + 3
    path.write_text(text[:docstring_end] + "\n" + line + "\n" + text[docstring_end:])


def test_the_checks_fail_on_an_injected_cycle_upward_import_and_streamlit(tree):
    assert find_cycle(import_graph(tree)) is None and upward_imports(import_graph(tree)) == []
    add_import(tree / "data" / "digits.py", "from ..training import loop")  # loop imports digits: a cycle
    cycle = find_cycle(import_graph(tree))
    assert cycle and cycle[0] == cycle[-1] and {"explorer.data.digits", "explorer.training.loop"} <= set(cycle)
    assert ("explorer.data.digits", "explorer.training.loop") in upward_imports(import_graph(tree))
    add_import(tree / "figures" / "style.py", "from ..readings import models")  # same rank: neither above
    assert ("explorer.figures.style", "explorer.readings.models") in upward_imports(import_graph(tree))
    add_import(tree / "analysis" / "stats.py", "import streamlit as st")
    add_import(tree / "training" / "loop.py", "from ..serving.limits import max_job_minutes")
    assert engine_violations(tree) == [
        ("explorer.analysis.stats", "streamlit"),
        ("explorer.training.loop", "explorer.serving.limits"),
        ("explorer.training.loop", "explorer.serving.limits.max_job_minutes"),
    ]


def test_a_function_level_import_counts_too(tree):
    path = tree / "model" / "network.py"
    path.write_text(path.read_text() + "\n\ndef _late():\n    from ..analysis import stats\n")
    assert ("explorer.model.network", "explorer.analysis.stats") in upward_imports(import_graph(tree))
