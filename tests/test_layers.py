"""The package layering of ../shared/STYLE.md, checked: every import in reenact/ (function-level
ones included) goes to the module's own package or one above it in LAYERS, and no modules import
each other in a cycle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "reenact"

# top to bottom: each may import only from itself and the ones above it. STYLE.md's list, with
# three changes: metrics/ (the plain image and landmark metrics) sits above losses/, which use
# SSIM; refine beside the pipeline it plugs into; eval/ above train/, whose validation runs its
# observer and metrics (eval imports nothing of training).
LAYERS = [
    ("config",), ("io",), ("geometry",), ("face",), ("tracking",), ("render",), ("motion",),
    ("models",), ("metrics",), ("losses",), ("data",), ("pipeline", "refine"), ("eval",),
    ("train",), ("cli", "app"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """(imported reenact module, line) for every import in the file, wherever it sits."""
    found = []
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.append((base, node.lineno))
            # "from reenact.io import video": a submodule, where one exists
            found += [(f"{base}.{a.name}", node.lineno) for a in node.names
                      if (root.parent / f"{base}.{a.name}".replace(".", "/")).with_suffix(
                          ".py").exists()]
    return [(name, line) for name, line in found if name.split(".")[0] == "reenact"]


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(root: Path = ROOT) -> list[str]:
    """Imports that run up or sideways against LAYERS, and packages not in LAYERS."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        here = layer(module_name(path, root))
        if here is None:
            continue
        if here not in RANK:
            bad.append(f"{module_name(path, root)}: package {here!r} is not in LAYERS")
            continue
        for target, line in imports(path, root):
            there = layer(target)
            if there is None or there == here:
                continue
            if there not in RANK or RANK[there] > RANK[here]:  # a tier's own may (cli, app)
                bad.append(f"{module_name(path, root)}:{line} imports {target} "
                           f"({here} may not import {there})")
    return bad


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Cycles among modules (function-level imports included), each as the modules in order."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph = {m: sorted({t for t, _ in imports(p, root) if t in modules and t != m})
             for m, p in modules.items()}
    found, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = "open"
        stack.append(m)
        for n in graph[m]:
            if state.get(n) == "open":
                found.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_every_import_runs_down_the_layers():
    assert violations() == []


def test_no_modules_import_each_other_in_a_cycle():
    assert cycles() == []


@pytest.mark.parametrize("source,expected", [
    ("from reenact.metrics.psnr import psnr\n", "geometry may not import metrics"),  # up
    ("def f():\n    from reenact.train.loop import train\n", "geometry may not import train"),
])
def test_the_check_catches_an_upward_import(tmp_path, source, expected):
    """A copy of the package with one upward import added (at the top, or inside a function)
    fails the check, naming the file, the line and the rule."""
    import shutil

    copy = tmp_path / "reenact"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    with open(copy / "geometry" / "__init__.py", "a", encoding="utf-8") as f:
        f.write("\n" + source)
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith("reenact.geometry:") and expected in found[0]


def test_the_check_catches_a_cycle(tmp_path):
    import shutil

    copy = tmp_path / "reenact"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    (copy / "io" / "a.py").write_text("from reenact.io import b\n")
    (copy / "io" / "b.py").write_text("def f():\n    from reenact.io.a import x\n")
    assert ["reenact.io.a", "reenact.io.b", "reenact.io.a"] in cycles(copy)
