"""rnncli: recurrent neural networks from the shell, on a pure NumPy engine."""

__version__ = "0.1.0"
