"""Data: read examples (TSV/CSV, .gz), tokenize, build vocabularies, pad and batch; describe a file
(``stats``) and make synthetic tasks (``synthetic``).

Pipeline: ``read_examples`` -> ``tokenize`` -> ``Vocab.build``/``encode`` ->
``batch_indices`` + ``pad_batch`` -> (ids (N, T), mask (N, T)) for the model.
Sequence tasks read ``read_tagged`` (CoNLL-U / token<TAB>tag -> ``TaggedSentence``) and
``read_text`` (a whole plain-text file, for language modelling).
"""

from rnncli.data.batching import batch_indices, bucketed_indices, pad_batch
from rnncli.data.readers import FORMATS, Example, read_examples, resolve_format
from rnncli.data.sequences import TAG_COLUMNS, TaggedSentence, read_tagged, read_text
from rnncli.data.tokenize import TOKENIZERS, tokenize
from rnncli.data.vocab import PAD, PAD_ID, UNK, UNK_ID, LabelVocab, Vocab

__all__ = [
    "Example",
    "read_examples",
    "resolve_format",
    "FORMATS",
    "TaggedSentence",
    "read_tagged",
    "read_text",
    "TAG_COLUMNS",
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
    "bucketed_indices",
]
