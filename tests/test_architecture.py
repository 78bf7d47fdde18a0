"""The layout keeps itself: no import cycles, and the CRM's code in one package.

Both read the source with `ast`, imports inside functions included (they cycle just the same
at run time); imports under `if TYPE_CHECKING:` are for type checkers only and are left out.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("portal", "contacts", "sync", "ops")
HIGHLEVEL_PACKAGE = "sync.connectors.highlevel"
# The registry names every provider; settings name every remote's environment variables.
MAY_NAME_HIGHLEVEL = {"sync.connectors", "portal.settings"}


def modules(packages: tuple[str, ...] = PRODUCTION) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[dotted.removesuffix(".__init__")] = path
    return found


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in [child, *runtime_nodes(child)])
            continue
        yield node
        yield from runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def imported_names(tree: ast.AST) -> Iterator[str]:
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for name, path in known.items():
        targets = {_owning_module(imported, known) for imported in imported_names(_parse(path))}
        graph[name] = {t for t in targets if t and t != name}
    return graph


def _owning_module(imported: str, known: dict[str, Path]) -> str | None:
    while imported and imported not in known:
        imported = imported.rpartition(".")[0]
    return imported or None


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse(
        "def f():\n    from sync.engine import push\nif TYPE_CHECKING:\n    import x\n"
    )
    assert list(imported_names(tree)) == ["sync.engine", "sync.engine.push"]


def test_no_import_cycles_in_the_production_code():
    assert cycles(import_graph(modules())) == []


def highlevel_mentions(name: str, path: Path) -> Iterator[str]:
    """String constants (docstrings aside) and imports that name the CRM's provider/package."""
    tree = _parse(path)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in runtime_nodes(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docstrings and "highlevel" in node.value.lower():
            yield f"{name}:{node.lineno}: {node.value!r}"
    for imported in imported_names(tree):
        if imported == HIGHLEVEL_PACKAGE or imported.startswith(HIGHLEVEL_PACKAGE + "."):
            yield f"{name}: imports {imported}"


def test_the_crm_is_named_only_in_its_package_and_the_registry():
    outside = {
        name: path
        for name, path in modules().items()
        if not (name == HIGHLEVEL_PACKAGE or name.startswith(HIGHLEVEL_PACKAGE + "."))
        and name not in MAY_NAME_HIGHLEVEL
    }
    assert [m for name, path in outside.items() for m in highlevel_mentions(name, path)] == []


def test_no_production_module_imports_the_stand_ins():
    stand_ins = [
        f"{name}: imports {imported}"
        for name, path in modules().items()
        for imported in imported_names(_parse(path))
        if imported == "sandbox" or imported.startswith("sandbox.")
    ]
    assert stand_ins == []
