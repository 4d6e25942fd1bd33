"""The Examples section of every fusionlab module runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import fusionlab

matplotlib.use("Agg")

MODULES = sorted(info.name for info in pkgutil.walk_packages(fusionlab.__path__, "fusionlab."))


def _has_examples(name):
    finder = doctest.DocTestFinder()
    return any(test.examples for test in finder.find(importlib.import_module(name)))


WITH_EXAMPLES = [name for name in MODULES if _has_examples(name)]


def test_the_public_modules_have_examples():
    # Guards the discovery: an import or naming change must not silently
    # leave these modules' examples unrun.
    for name in (
        "fusionlab.detection.detector",
        "fusionlab.metrics.vus",
        "fusionlab.nn.anomaly_detection.lstm_autoencoder",
        "fusionlab.nn.losses",
        "fusionlab.tabular.detector",
        "fusionlab.plot",
    ):
        assert name in WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    # Examples that write files (read_table's) write them here, not into
    # the checkout.
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
