"""The house rules of docs/architecture.md, read off the source: import direction, no cycles, no private names across modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage", "console")
# modules every feature may import; anything else in handlers/ is a feature and imports no other feature
SHARED_HANDLER_MODULES = ("handlers", "handlers.common", "handlers.lib")


def _modules() -> dict[str, Path]:
    out = {"run_bot": ROOT / "run_bot.py"}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts and path.name != "__init__.py" and "versions" in path.parts:
                continue  # alembic revisions import only alembic and sqlalchemy; they are data, not code
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int, list[str]]]:
    """(imported project module, line, names taken from it) for every import in the file, late ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _project(alias.name):
                    yield _known(alias.name), node.lineno, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not _project(base):
                continue
            names = [a.name for a in node.names]
            # `from pkg import mod` names a module: the edge goes to it
            subs = [n for n in names if f"{base}.{n}" in MODULES]
            for n in subs:
                yield f"{base}.{n}", node.lineno, []
            rest = [n for n in names if n not in subs]
            if rest or not subs:
                yield _known(base), node.lineno, rest


def _project(module: str) -> bool:
    return module.split(".")[0] in (*PACKAGES, "run_bot")


def _known(module: str) -> str:
    while module not in MODULES and "." in module:
        module = module.rpartition(".")[0]
    return module


GRAPH = {name: sorted({(m, line, tuple(names)) for m, line, names in _imports(name, path)}) for name, path in MODULES.items()}


def _edges(prefix: str) -> Iterator[tuple[str, str, int]]:
    for src, targets in GRAPH.items():
        if src == prefix or src.startswith(prefix + "."):
            for dst, line, _names in targets:
                yield src, dst, line


def _under(module: str, *pkgs: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in pkgs)


def test_the_graph_sees_the_project() -> None:
    # a parser that found nothing would pass every rule below
    assert len(MODULES) > 40
    assert any(m == "storage.tables" for m, _l, _n in GRAPH["storage.ledger"])
    assert any(m.startswith("bot.") for m, _l, _n in GRAPH["run_bot"])


def test_no_import_cycle() -> None:
    graph = {src: {dst for dst, _l, _n in targets if dst != src} for src, targets in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ importing its own modules is how Python packages work, not a cycle
            if node in PACKAGES and nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_bot_knows_nothing_of_features_or_storage() -> None:
    bad = [f"{s}:{line} imports {d}" for s, d, line in _edges("bot") if _under(d, "handlers", "storage", "console", "run_bot")]
    assert not bad, "\n".join(bad)


def test_storage_imports_neither_bot_nor_handlers() -> None:
    bad = [f"{s}:{line} imports {d}" for s, d, line in _edges("storage") if _under(d, "bot", "handlers", "console", "run_bot")]
    assert not bad, "\n".join(bad)


def test_handlers_and_console_never_import_the_entry_point() -> None:
    bad = [f"{s}:{line} imports {d}" for pkg in ("handlers", "console") for s, d, line in _edges(pkg) if d == "run_bot"]
    assert not bad, "\n".join(bad)


def test_console_imports_only_what_it_may() -> None:
    # console/ sits beside handlers/: the runtime, storage and the shared rules, never a feature module
    allowed = ("console", "bot", "storage", *SHARED_HANDLER_MODULES)
    bad = [f"{s}:{line} imports {d}" for s, d, line in _edges("console")
           if not _under(d, *allowed) or d == "handlers"]
    assert not bad, "\n".join(bad)
    assert any(d.startswith("storage.") for _s, d, _l in _edges("console"))  # the rule saw the package


def test_features_do_not_import_each_other() -> None:
    features = {m for m in MODULES if _under(m, "handlers") and m not in SHARED_HANDLER_MODULES
                and not _under(m, *(s for s in SHARED_HANDLER_MODULES if s != "handlers"))}
    # the shared modules serve features and never import one
    bad = [f"{s}:{line} imports {d}" for s, d, line in _edges("handlers")
           if d in features and d != s and (s in features or s != "handlers")]
    assert not bad, "\n".join(bad)


def _private_definitions() -> dict[str, set[str]]:
    """Module -> the private names it defines at top level (functions, classes, assignments)."""
    out: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in tree.body:
            targets: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                targets = [node.name]
            elif isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            found |= {t for t in targets if t.startswith("_") and not t.startswith("__")}
        out[name] = found
    return out


def test_no_private_name_crosses_a_module_boundary() -> None:
    private = _private_definitions()
    bad = []
    for src, targets in GRAPH.items():
        for dst, line, names in targets:
            if dst == src:
                continue
            bad += [f"{src}:{line} takes {dst}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    # attribute access on another object: `other._x` where `_x` is a private method or attribute some project
    # class defines (self and cls are the object's own business)
    methods: set[str] = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("_") \
                            and not item.name.startswith("__"):
                        methods.add(item.name)
    modules_private = set().union(*private.values())
    for src, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # inside a class, another instance's private members are still the class's own business
        own: set[int] = set()
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            members = {i.name for i in cls.body if isinstance(i, ast.FunctionDef | ast.AsyncFunctionDef)}
            own |= {id(a) for a in ast.walk(cls) if isinstance(a, ast.Attribute) and a.attr in members}
        for node in ast.walk(tree):
            if id(node) in own:
                continue
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            if node.attr in methods or node.attr in modules_private:
                bad.append(f"{src}:{node.lineno} uses {ast.unparse(node)}")
    assert not bad, "\n".join(bad)
