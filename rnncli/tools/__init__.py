"""Looking inside models: finite-difference gradient checks (``rnn gradcheck``), per-step gradient norms
(``rnn grad-norms``) and export of the weights to PyTorch (``rnn export``)."""
