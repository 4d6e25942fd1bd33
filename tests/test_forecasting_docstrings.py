"""The Examples sections of the forecasting modules run and pass."""

import doctest
import importlib

import pytest

MODULES = ["fusionlab.nn.losses", "fusionlab.nn.forecaster", "fusionlab.nn.forecast_data"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
