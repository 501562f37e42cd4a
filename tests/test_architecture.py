"""The package rules, read from the source: no import cycles (imports inside functions count), model/
never imports host/ or DawDreamer, model.config loads without torch, and at most eight modules sit
directly in host/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("host", "model")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports anywhere in it (top level, inside functions, TYPE_CHECKING aside)."""
    tree = ast.parse(path.read_text())
    type_checking = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                     and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                     for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found - {_module_name(path)}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _cycle_from(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # a package's __init__ importing its own submodules is how packages work, not a cycle
            if node.startswith(nxt + ".") or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    cycle = _cycle_from(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle_from({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_model_never_imports_host() -> None:
    offenders = {m: sorted(i for i in deps if i.split(".")[0] == "host")
                 for m, deps in _graph().items() if m.split(".")[0] == "model"}
    assert not {m: d for m, d in offenders.items() if d}


def test_host_uses_only_the_model_public_api() -> None:
    from model import PUBLIC_MODULES

    offenders = {m: sorted(i for i in deps if i.split(".")[0] == "model" and i not in PUBLIC_MODULES)
                 for m, deps in _graph().items() if m.split(".")[0] == "host"}
    assert not {m: d for m, d in offenders.items() if d}


def test_no_public_name_of_model_is_shadowed_by_a_submodule() -> None:
    import model

    assert not set(model.__all__) & {m.split(".")[-1] for m in _modules() if m.startswith("model.")}


def test_host_has_at_most_eight_modules_of_its_own() -> None:
    direct = sorted(p.name for p in (ROOT / "host").glob("*.py") if p.name != "__init__.py")
    assert len(direct) <= 8, direct


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip()


def test_model_predict_never_imports_dawdreamer() -> None:
    code = ("import sys, numpy as np; from model import predict\n"
            "rng = np.random.default_rng(0)\n"
            "x = (0.1 * rng.standard_normal(44100 * 3)).astype(np.float32)\n"
            "p = predict(x, x[::-1].copy(), 44100, 'faust-peq')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dawdreamer', 'host')), len(p.values))")
    assert _fresh(code) == "[] 10"


def test_light_model_modules_load_without_torch() -> None:
    code = ("import sys, model, model.config, model.profiles, model.errors, model.atomic, model.manifest\n"
            "import model.mel_scale, model.curve.response, model.curve.restraint\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'librosa', 'scipy'}))")
    assert _fresh(code) == "[]"
