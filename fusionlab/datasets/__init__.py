"""Data for fusionlab: synthetic generators and a local NAB reader."""

from .nab import list_nab, load_nab
from .synthetic import *  # noqa: F403  (the generators: synthetic.__all__)
from .synthetic import __all__ as _generators

__all__ = [*_generators, "load_nab", "list_nab"]
