"""Data for fusionlab: synthetic generators and a local NAB reader."""

from .incidents import SERIES_INCIDENTS, make_incident_series
from .multisensor import MULTISENSOR_INCIDENTS, make_multisensor_series
from .nab import list_nab, load_nab
from .synthetic import *  # noqa: F403  (the generators: synthetic.__all__)
from .synthetic import __all__ as _generators

__all__ = [*_generators, "make_incident_series", "SERIES_INCIDENTS",
           "make_multisensor_series", "MULTISENSOR_INCIDENTS", "load_nab", "list_nab"]
