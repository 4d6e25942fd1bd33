"""Sphinx configuration for the fusionlab documentation."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import fusionlab  # noqa: E402

project = "fusionlab"
author = "fusionlab developers"
copyright = "2026, fusionlab developers"
release = fusionlab.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "executed_pages",
]

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
autodoc_member_order = "bysource"
autodoc_typehints = "none"
intersphinx_mapping = {}
exclude_patterns = ["_build", "_generated/*.rst"]
html_theme = "furo"
html_title = "fusionlab"
html_static_path = ["_static"]
nitpicky = False
