"""The package's shape, read from its source (imports inside functions included): no import circle;
three layers, the engine (every module but these two) <- ``datadiet.toolkit`` (dataset readers,
task models, metrics, the experiment runner, GSM8K) <- ``datadiet.cli``, each importing only from
itself and the layers before it; nothing in the package imports the repository's benchmarks or
finds files from its own source location; and no module writes another object's private fields
(the Trainer's own internals are touched in integrations/compat.py alone)."""

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "datadiet"
TRAINER_INTERNALS = PACKAGE / "integrations" / "compat.py"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(module: str, path: Path, node: ast.AST, modules: dict) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        if node.level:
            package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = package + (f".{node.module}" if node.module else "")
        else:
            base = node.module or ""
        names = [base] + [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
    return names


def import_graph() -> dict[str, set[str]]:
    """Every module of the package and the package modules it imports, anywhere in its source."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _imported(module, path, node, modules):
                    while name not in modules and "." in name:
                        name = name.rsplit(".", 1)[0]
                    if name in modules and name != module and name.startswith("datadiet"):
                        deps.add(name)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_cycles_finds_a_circle_it_is_shown():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circle():
    graph = import_graph()
    assert len(graph) > 50 and "datadiet.diet" in graph["datadiet.integrations.trainer"]
    assert cycles(graph) == []


LAYERS = ("engine", "datadiet.toolkit", "datadiet.cli")
"""From the bottom up: a module may import its own layer and those before it, never one after."""


def layer(module: str) -> int:
    """The index in :data:`LAYERS` of a package module's layer."""
    for i, top in enumerate(LAYERS[1:], start=1):
        if module == top or module.startswith(top + "."):
            return i
    return 0


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for every import of a later layer."""
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps if layer(d) > layer(m))


def test_layer_violations_are_found():
    graph = {"datadiet.diet": {"datadiet.toolkit.data"}, "datadiet.toolkit.experiment": {"datadiet.diet"},
             "datadiet.toolkit.data": {"datadiet.cli.main"}, "datadiet.cli.main": {"datadiet.toolkit", "datadiet"},
             "datadiet": set(), "datadiet.toolkit": set()}
    assert layer_violations(graph) == ["datadiet.diet -> datadiet.toolkit.data",
                                       "datadiet.toolkit.data -> datadiet.cli.main"]


MODULE_NAME = re.compile(r"datadiet(\.[A-Za-z_]\w*)+\.?")


def named_modules() -> dict[str, set[str]]:
    """Every module and the package modules its strings name in full (``"datadiet.toolkit.tasks"``,
    or an f-string's ``"datadiet.toolkit.tasks."`` prefix): the imports of lazy tables and
    ``importlib.import_module``, which no import statement shows."""
    modules, named = _modules(), {}
    for module, path in modules.items():
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
                name = node.value.rstrip(".")
                while name not in modules and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in modules and name != module:
                    names.add(name)
        named[module] = names
    return named


def test_the_engine_imports_neither_toolkit_nor_cli_and_the_toolkit_not_the_cli():
    graph = import_graph()
    assert {layer(m) for m in graph} == {0, 1, 2}  # the three layers exist where this test looks
    assert "datadiet.toolkit.experiment" in graph["datadiet.cli.main"]
    assert layer_violations(graph) == []
    named = named_modules()
    assert "datadiet.integrations.trl" in named["datadiet"]  # its lazy table is seen
    assert layer_violations(named) == []


def test_nothing_in_the_package_imports_the_repository_benchmarks():
    importers = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "benchmarks":
                importers.append(module)
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "benchmarks" for a in node.names):
                importers.append(module)
    # the grid is part of the repository: `python -m benchmarks.grid` from a checkout's root
    assert importers == []


def test_no_module_finds_files_from_its_own_source_location():
    # installed, a module's folder is site-packages: data are found from arguments, the environment
    # or the current directory, and installed packages' folders through importlib
    users = [f"{path.relative_to(SRC)}:{node.lineno}" for path in PACKAGE.rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Name) and node.id == "__file__"]
    assert users == []


def test_no_module_writes_another_objects_private_fields():
    writes = []
    for path in PACKAGE.rglob("*.py"):
        if path == TRAINER_INTERNALS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                for sub in ast.walk(target):
                    if (isinstance(sub, ast.Attribute) and sub.attr.startswith("_") and not sub.attr.startswith("__")
                            and not (isinstance(sub.value, ast.Name) and sub.value.id in ("self", "cls"))):
                        writes.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(target)}")
    assert writes == []


TESTS = Path(__file__).resolve().parent


def test_no_test_module_imports_another_and_shared_builders_come_from_one_place():
    """Test modules share code through the helper modules and conftest's fixtures, never by importing
    each other; and no test module defines its own wrapper of the shared tiny models or free port."""
    tests = {p.stem for p in TESTS.glob("test_*.py")}
    offenders = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.split(".")[-1] in tests]
            if isinstance(node, ast.FunctionDef) and node.name in ("tiny_lm", "free_port", "_free_port") \
                    and path.name not in ("helpers.py", "conftest.py") and not node.decorator_list:
                offenders.append(f"{path.name}:{node.lineno} defines {node.name}")
    assert offenders == []
