"""The Examples sections of the metrics, datasets and plot modules run and pass."""

import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = [
    "fusionlab.metrics.pointwise",
    "fusionlab.metrics.event_based",
    "fusionlab.metrics.range_based",
    "fusionlab.metrics.vus",
    "fusionlab.metrics.evaluate",
    "fusionlab.datasets.synthetic",
    "fusionlab.datasets.nab",
    "fusionlab.plot",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
