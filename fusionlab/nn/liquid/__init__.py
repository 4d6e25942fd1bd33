"""Liquid (continuous-time) recurrent cells and layers for irregular series.

- :class:`CfCCell`, :class:`CfC` -- closed-form continuous-time cell and layer
  (Hasani et al., 2022).
- :class:`LTCCell`, :class:`LTC` -- liquid time-constant cell and layer
  (Hasani et al., 2021).
- :func:`check_time_delta` -- the shape and value checks of the elapsed-time
  input.
"""

from .cells import CfCCell, LTCCell, lecun_tanh
from .layers import LTC, CfC
from .time_delta import check_time_delta

__all__ = ["CfC", "CfCCell", "LTC", "LTCCell", "check_time_delta", "lecun_tanh"]
