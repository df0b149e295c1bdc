"""``python -m rnncli`` is the same as ``rnn``."""

from rnncli.cli import main

main()
