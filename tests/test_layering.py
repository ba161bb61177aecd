"""The package is layered: imports flow one way, numba stays under rhtann/kernels/.

Layers, lowest first (a module may import its own layer and those below):

0. ``rhtann.kernels``: every numba-compiled function; numpy, numba, llvmlite only.
1. leaf helpers: ``_validation``, ``io``, ``signs``, ``threads``, ``progress``.
2. ``rhtann.layouts``.
3. ``moments``.  4. ``rounds``.  5. ``transform``.
6. ``rhtann.codecs`` and ``rhtann.search``.
7. ``rhtann.index`` (and the ``faiss_compat`` alias).
8. ``rhtann.data`` (and the data helpers), built on the layers below; never
   imported by them.
9. ``rhtann`` itself (the public names).

Checked from the source with ``ast`` (every import statement, not only those
that run at import time), plus one import of every module.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "rhtann"

LEAVES = {"rhtann._validation", "rhtann.io", "rhtann.signs", "rhtann.threads", "rhtann.progress"}
PACKAGES = [
    ("rhtann.kernels", 0),
    ("rhtann.layouts", 2),
    ("rhtann.codecs", 6),
    ("rhtann.search", 6),
    ("rhtann.index", 7),
    ("rhtann.data", 8),
]
MODULES = {
    "rhtann.moments": 3,
    "rhtann.rounds": 4,
    "rhtann.transform": 5,
    "rhtann.faiss_compat": 7,
    "rhtann.distributed": 7,
}
DATA_MODULES = {"rhtann.download", "rhtann.synthetic"}  # data helpers outside rhtann/data/
KERNEL_ONLY = ("numba", "llvmlite")


def module_name(path: Path) -> str:
    parts = ["rhtann", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


SOURCES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer(name: str) -> int:
    if name == "rhtann":
        return 9
    if name in LEAVES:
        return 1
    if name in DATA_MODULES:
        return 8
    if name in MODULES:
        return MODULES[name]
    for prefix, rank in PACKAGES:
        if name == prefix or name.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{name} has no layer: add it to the table in tests/test_layering.py")


def imports(name: str) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` of every import in ``name``'s source."""
    path = SOURCES[name]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in SOURCES else target, node.lineno, id(node) in top))
    return found


def internal(name: str) -> list[tuple[str, int, bool]]:
    return [(m, line, top) for m, line, top in imports(name) if m == "rhtann" or m.startswith("rhtann.")]


def test_every_module_has_a_layer_and_imports():
    assert len(SOURCES) > 20
    for name in SOURCES:
        layer(name)
        if not name.endswith(".__main__"):  # entry points run their command on import
            importlib.import_module(name)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_imports_flow_down(name):
    mine = layer(name)
    for target, line, _ in internal(name):
        assert layer(target) <= mine, (
            f"{name} (layer {mine}) imports {target} (layer {layer(target)}) at line {line}"
        )


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if layer(n) < 8))
def test_no_function_local_imports_of_rhtann_in_the_core(name):
    lazy = [(t, line) for t, line, top in internal(name) if not top]
    assert not lazy, f"{name} imports {lazy} inside functions"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_numba_only_in_kernels(name):
    for target, line, _ in imports(name):
        if target.split(".")[0] in KERNEL_ONLY:
            assert layer(name) == 0, f"{name} imports {target} at line {line}; numba belongs in kernels"


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if layer(n) == 0))
def test_kernels_import_no_faiss_and_nothing_above(name):
    for target, line, _ in imports(name):
        assert target.split(".")[0] != "faiss", f"{name} imports faiss at line {line}"
        if target.startswith("rhtann"):
            assert target.startswith("rhtann.kernels"), f"{name} imports {target} at line {line}"


def test_no_import_cycles():
    graph = {n: {t for t, _, _ in internal(n) if t in SOURCES and t != n} for n in SOURCES}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_checker_sees_a_violation(tmp_path, monkeypatch):
    """The checks can fail: an upward import in a kernel module is reported."""
    fake = ROOT / "kernels" / "pad.py"
    bad = tmp_path / "pad.py"
    bad.write_text(fake.read_text() + "\nfrom ..index import core  # noqa\n")
    monkeypatch.setitem(SOURCES, "rhtann.kernels.pad", bad)
    with pytest.raises(AssertionError, match="imports rhtann.index"):
        test_kernels_import_no_faiss_and_nothing_above("rhtann.kernels.pad")
    with pytest.raises(AssertionError, match="layer 0"):
        test_imports_flow_down("rhtann.kernels.pad")


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if layer(n) < 8))
def test_core_modules_stay_under_700_lines(name):
    lines = SOURCES[name].read_text().count("\n")
    assert lines <= 700, f"{name} has {lines} lines; split it"
