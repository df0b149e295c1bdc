"""Data: read examples (TSV/CSV, .gz), tokenize, build vocabularies, pad and batch.

Pipeline: ``read_examples`` -> ``tokenize`` -> ``Vocab.build``/``encode`` ->
``batch_indices`` + ``pad_batch`` -> (ids (N, T), mask (N, T)) for the model.
"""

from rnncli.data.batching import batch_indices, pad_batch
from rnncli.data.readers import Example, read_examples
from rnncli.data.tokenize import TOKENIZERS, tokenize
from rnncli.data.vocab import PAD, PAD_ID, UNK, UNK_ID, LabelVocab, Vocab

__all__ = [
    "Example",
    "read_examples",
    "tokenize",
    "TOKENIZERS",
    "Vocab",
    "LabelVocab",
    "PAD",
    "UNK",
    "PAD_ID",
    "UNK_ID",
    "pad_batch",
    "batch_indices",
]
