import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_file(folder: str, name: str) -> ModuleType:
    """<folder>/<name>.py of the repository as a module (scripts/ and experiments/ are not
    packages)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module."""
    return load_file("scripts", name)
