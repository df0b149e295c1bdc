"""Using a trained run: scoring a data file (``rnn evaluate``), predictions for raw texts (``rnn predict``)
and sampling text from a language model (``rnn generate``)."""
