"""Names of a package that import their module on first use (PEP 562).

``import fusionlab.detection`` must not start Keras: each public name is
looked up in its module only when it is first read, then kept in the
package, so later reads cost nothing.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_exports"]


def lazy_exports(package, exports):
    """``(__getattr__, __dir__)`` for ``package`` whose name ``n`` lives in ``exports[n]``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to str
        Public name -> the package's submodule that defines it.

    Examples
    --------
    >>> from fusionlab._lazy import lazy_exports
    >>> getattr_, dir_ = lazy_exports("fusionlab.detection", {"choose_window": "period"})
    >>> getattr_("choose_window").__name__
    'choose_window'
    >>> getattr_("nothing")
    Traceback (most recent call last):
        ...
    AttributeError: module 'fusionlab.detection' has no attribute 'nothing'
    """

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
