"""The package imports cleanly: no cycles, every module alone, no Keras for light imports."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import fusionlab

ROOT = Path(fusionlab.__file__).parent
# Alembic's migration scripts are run by Alembic, not imported.
MODULES = sorted(info.name for info in pkgutil.walk_packages(fusionlab.__path__, "fusionlab.")
                 if ".migrations" not in info.name)


def _module_of(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path, name):
    """fusionlab modules that ``path`` imports, anywhere in it (functions included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from . import io` imports the submodule io.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    known = {_module_of(p) for p in ROOT.rglob("*.py")}
    return {m for m in found if m in known and m != name}


def _graph():
    graph = {}
    for path in ROOT.rglob("*.py"):
        name = _module_of(path)
        graph[name] = _imports(path, name)
    return graph


def _python(code, timeout=600):
    """stdout of ``code`` run by a fresh interpreter; fails the test on an error."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_no_import_cycles():
    graph = _graph()
    # A module importing its own package's __init__ (`from .. import
    # __version__`) is not a cycle through the package's lazy attributes.
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        visiting.add(node)
        for target in sorted(graph.get(node, ())):
            if target in visiting:
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in done:
                visit(target, trail + [target])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])
    assert not cycles, f"import cycles: {cycles}"


def test_every_module_imports_alone():
    # One interpreter (Keras starts once), but each module is imported with
    # no fusionlab module loaded before it, so an order-dependent import
    # fails here.
    failures = _python(
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    for key in [k for k in sys.modules if k.split('.')[0] == 'fusionlab']:\n"
        "        del sys.modules[key]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(f'{name}: {type(exc).__name__}: {exc}')\n"
    )
    assert failures == "", failures


def test_import_fusionlab_starts_no_keras_and_reaches_the_detector():
    name = _python(
        "import sys, fusionlab\n"
        "assert 'keras' not in sys.modules, 'import fusionlab started keras'\n"
        "import fusionlab.detection\n"
        "assert 'keras' not in sys.modules, 'import fusionlab.detection started keras'\n"
        "from fusionlab.detection import Anomaly\n"
        "assert 'keras' not in sys.modules, 'the records started keras'\n"
        "print(fusionlab.detection.AnomalyDetector.__name__)\n"
    )
    assert name.strip() == "AnomalyDetector"
