"""rnncli: recurrent neural networks from the shell, on a pure NumPy engine.

``rnncli.train``, ``rnncli.load`` and ``rnncli.Run`` are the Python API (:mod:`rnncli.api`), imported on first
use so that ``rnn`` starts no slower.
"""

__version__ = "0.1.0"

_API = ("train", "load", "Run")


def __getattr__(name: str):
    if name in _API:
        from rnncli import api

        return getattr(api, name)
    raise AttributeError(f"module 'rnncli' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
