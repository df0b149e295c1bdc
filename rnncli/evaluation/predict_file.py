"""Predictions for every example of a data file, written with the file's own columns.

``rnn predict --data FILE`` reads FILE as the run's training data was read (its columns, format and, for
tagged files, its tokens), a chunk at a time, and writes each row with every original column and the
prediction's columns after them (:meth:`rnncli.tasks.Task.prediction_columns`: ``predicted`` and
``probability`` for classify, tag and lm, with ``top_k`` on request; ``predicted`` for regress;
``predicted`` and ``log_probability`` for seq2seq). A tagged file gives one row per token (``sentence``,
``token``, ``gold``). ``rnn evaluate --predictions OUT`` writes the same rows with ``correct`` (whether
the prediction is the gold label, tag or output), for error analysis.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from rnncli.data.rows import RowWriter, stream_examples
from rnncli.errors import DataError
from rnncli.tasks import task_of

CHUNK = 512  # examples predicted at once: the memory stays that of one chunk, whatever the file's size


def gold_column(run) -> str | None:
    """The column of a table row that holds its gold label (a tagged file's rows have ``gold``)."""
    field = run.config.data.label_field
    return field if isinstance(field, str) else f"column_{field}"


def predict_file(run, path: str, writer: RowWriter, top_k: int | None = None, threshold: float | None = None,
                 beam: int = 1, max_length: int | None = None, correct: bool = False,
                 progress: Callable[[int], None] | None = None) -> int:
    """Write every example of ``path`` with its prediction to ``writer``; returns how many rows were written."""
    from rnncli.evaluation.predict import predict

    task, d = task_of(run.spec.task), run.config.data
    gold = gold_column(run) if correct else None
    examples = stream_examples(path, d.format, d.text_field, d.header, d.tag_column)
    written, done = 0, 0
    while True:
        chunk = list(itertools.islice(examples, CHUNK))
        if not chunk:
            break
        empty = next((e for e in chunk if not e.text.strip()), None)
        if empty is not None:
            raise DataError(f"{path}:{empty.line}: the text is empty, so there is nothing to predict from.",
                            hint="remove the row, or give it a text")
        tokens = [e.tokens for e in chunk] if chunk[0].tokens is not None else None
        predictions = predict(run, [e.text for e in chunk], beam, max_length, tokens)
        for example, prediction in zip(chunk, predictions):
            columns = task.prediction_columns(prediction, top_k, threshold)
            for row, extra in zip(example.rows, columns):
                out = {**row, **extra}
                key = "gold" if "gold" in row else gold
                if correct and key in row:
                    out["correct"] = str(extra["predicted"]) == str(row[key]).strip()
                writer.write(out)
                written += 1
        done += len(chunk)
        if progress is not None:
            progress(done)
    if written == 0:
        raise DataError(f"{path}: no examples to predict.", hint="check the file and its format")
    return written
