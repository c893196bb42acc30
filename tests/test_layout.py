"""The package's imports run one way: analysis -> review -> compare -> CLI (issue 17).

Each module's geo imports (top level and inside functions) are read from its source, so
a function-level import that closes a cycle is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import geo

GEO = Path(geo.__file__).parent

# Layers, lowest first: a module may import only from its own layer or lower ones.
LAYERS = (
    ("analysis", lambda m: not m.startswith(("geo.review", "geo.compare", "geo.cli",
                                             "geo.review_cli"))),
    ("review", lambda m: m.startswith("geo.review") and m != "geo.review_cli"),
    ("compare", lambda m: m == "geo.compare"),
    ("cli", lambda m: m in ("geo.cli", "geo.review_cli")),
)


def _layer(module: str) -> int:
    return next(i for i, (_, test) in enumerate(LAYERS) if test(module))


def _module_name(path: Path) -> str:
    parts = path.relative_to(GEO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _geo_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "geo":
                found |= {f"geo.{a.name}" for a in node.names}
            elif node.module.startswith("geo."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("geo.")}
    return found


def test_imports_run_one_way() -> None:
    wrong = []
    for path in sorted(GEO.rglob("*.py")):
        module = _module_name(path)
        if module.startswith("geo.testing") or module == "geo":
            continue
        for target in _geo_imports(path):
            if _layer(target) > _layer(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layers: " + "; ".join(wrong)


def test_review_modules_do_not_import_each_other_in_a_circle() -> None:
    graph = {_module_name(p): {t for t in _geo_imports(p) if t.startswith("geo.review.")}
             for p in (GEO / "review").glob("*.py")}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [m for m in graph if reaches(m, m, set())]
    assert not cycles, f"modules in an import cycle: {cycles}"


def test_the_layer_test_sees_a_wrong_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from geo.review.trend import trend\n", encoding="utf-8")
    assert "geo.review.trend" in _geo_imports(bad)
    assert _layer("geo.review.trend") > _layer("geo.plot")
