from types import ModuleType

from tests.scripts import load_file


def load_experiment(name: str) -> ModuleType:
    """experiments/<name>.py as a module."""
    return load_file("experiments", name)
