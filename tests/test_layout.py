"""The package's layers: no module imports a higher layer, and no modules import each other in a circle.

Layers, lowest first (the README's "How it works" draws them):

    base       errors, options, _version: shared by every layer
    engine     reads the data and does the math (exact counts, no noise, no budget)
    privacy    noise, accounting, the mechanisms that read the data, the ledger of runs
    pipeline   run(): the data flow
    reporting  quality and privacy report, HTML, canary
    surfaces   Python API, SQL registration, CLI, shell, demo (and the package's __init__ and spark)

Every import counts, at module level or inside a function, and one only for type
checkers (``if TYPE_CHECKING:``) may not go upward either; a circle is looked for
among the imports that run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "duckdb_synth"
LAYERS = (
    ("base", {"errors", "options", "_version"}),
    ("engine", {"engine"}),
    ("privacy", {"privacy"}),
    ("pipeline", {"pipeline"}),
    ("reporting", {"reporting"}),
    ("surfaces", {"surfaces", "__init__", "spark"}),
)


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package at `root`."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(imported module of the package, only for type checkers) for every import in the module."""
    top = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            typing_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.split(".")[0] == top]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != top:
                continue
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod.
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known]
            targets = subs if len(subs) == len(node.names) else [module, *subs]
        out.extend((t, id(node) in typing_only) for t in targets if t in known)
    return out


def layer(name: str) -> int:
    parts = name.split(".")
    first = parts[1] if len(parts) > 1 else "__init__"
    for rank, (_, members) in enumerate(LAYERS):
        if first in members:
            return rank
    raise AssertionError(f"module {name} is in no layer: add it to LAYERS in tests/test_layout.py "
                         "and to the README's picture of the layers")


def problems(root: Path) -> list[str]:
    """Every upward import and every import circle of the package at `root`, as sentences."""
    found = modules(root)
    known = set(found)
    out = []
    graph: dict[str, set[str]] = {m: set() for m in found}
    for name, path in found.items():
        for target, typing_only in imports(name, path, known):
            if target == name:
                continue
            if layer(target) > layer(name):
                out.append(f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]}), "
                           "a higher layer")
            if not typing_only:
                graph[name].add(target)
    out.extend(f"import circle: {' -> '.join(c + [c[0]])}" for c in circles(graph))
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_upward_import_and_no_circle() -> None:
    assert problems(PACKAGE) == []


def test_every_module_is_in_a_layer() -> None:
    for name in modules(PACKAGE):
        layer(name)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "duckdb_synth"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("files, expected", [
    # An engine module reaching up into the privacy layer, lazily inside a function.
    ({"__init__.py": "", "engine/__init__.py": "", "privacy/__init__.py": "", "privacy/noise.py": "",
      "engine/domain.py": "def f():\n    from ..privacy.noise import x\n"},
     ["duckdb_synth.engine.domain (engine) imports duckdb_synth.privacy.noise (privacy), a higher layer"]),
    # The same, for type checkers only: still upward.
    ({"__init__.py": "", "engine/__init__.py": "", "reporting/__init__.py": "", "reporting/build.py": "",
      "engine/domain.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    from duckdb_synth.reporting import build\n"},
     ["duckdb_synth.engine.domain (engine) imports duckdb_synth.reporting.build (reporting), a higher layer"]),
    # Two modules of one layer importing each other (one of them lazily).
    ({"__init__.py": "", "reporting/__init__.py": "", "reporting/build.py": "from . import html\n",
      "reporting/html.py": "def f():\n    from .build import Report\n"},
     ["import circle: duckdb_synth.reporting.build -> duckdb_synth.reporting.html -> duckdb_synth.reporting.build"]),
    # Imports under `if not TYPE_CHECKING:` do run: a circle through them counts.
    ({"__init__.py": "", "reporting/__init__.py": "", "reporting/build.py": "from . import html\n",
      "reporting/html.py": "from typing import TYPE_CHECKING\nif not TYPE_CHECKING:\n    from .build import Report\n"},
     ["import circle: duckdb_synth.reporting.build -> duckdb_synth.reporting.html -> duckdb_synth.reporting.build"]),
    # A circle through type-checking imports only is no circle at run time; downward imports are fine.
    ({"__init__.py": "from .surfaces import api\n", "surfaces/__init__.py": "",
      "surfaces/api.py": "import duckdb_synth.pipeline\n", "pipeline.py": "from .engine import data\n",
      "engine/__init__.py": "", "engine/data.py": "from ..errors import E\n", "errors.py": "",
      "reporting/__init__.py": "", "reporting/build.py": "def f():\n    from .html import w\n",
      "reporting/html.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .build import Report\n"},
     []),
])
def test_the_check_finds_what_it_should(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    assert problems(_package(tmp_path, files)) == expected
