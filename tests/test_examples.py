"""`python -m rnncli.cli.examples` reruns the marked console blocks of the docs and writes their output
back: whole, or trimmed to its first and last lines; unmarked blocks stay as they are."""

from __future__ import annotations

from pathlib import Path

from rnncli.cli import examples

PAGE = """# A page

<!-- rerun -->
```console
$ echo hello
stale output
$ printf 'a\\nb\\n' >&2
```

```console
$ echo untouched
kept as written
```

<!-- rerun: head=2 tail=1 -->
```console
$ seq 1 10
1
…
```
"""


def test_marked_blocks_are_rerun_and_trimmed(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    assert examples.rerun(page, tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "$ echo hello\nhello\n$ printf 'a\\nb\\n' >&2\na\nb\n```" in text  # stderr too, stale lines gone
    assert "$ echo untouched\nkept as written\n```" in text  # no marker: not run
    assert "$ seq 1 10\n1\n2\n…\n10\n```" in text
    assert not examples.rerun(page, tmp_path)  # a second run changes nothing


def test_the_runs_of_one_block_are_there_for_the_next(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("<!-- rerun -->\n```console\n$ echo 1 > made.txt\n```\n\n<!-- rerun -->\n```console\n"
                    "$ cat made.txt\n```\n", encoding="utf-8")
    examples.rerun(page, tmp_path)
    assert "$ cat made.txt\n1\n```" in page.read_text(encoding="utf-8")


def test_every_page_has_marked_blocks_that_name_real_commands():
    marked = 0
    for page in examples.pages(Path(__file__).resolve().parents[1]):
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines[:-1]):
            if examples.MARKER.match(line.strip()):
                assert lines[i + 1].startswith("```console"), f"{page.name}:{i + 1}: a marker must precede a console block"
                marked += 1
    assert marked >= 4
