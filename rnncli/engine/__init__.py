"""The NumPy engine: cells, the time loop, layers, losses, optimisers, gradient checks.

Shape letters used throughout: N batch, T time, D input features, H hidden units,
G gates per cell (1 RNN, 4 LSTM, 3 GRU), V vocabulary, C classes.
The engine imports nothing from the CLI, config or data layers.
"""
