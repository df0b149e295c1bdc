"""Rerun the console examples of the README and docs/ and write their real output back.

    python -m rnncli.cli.examples                 # every marked block of README.md and docs/*.md
    python -m rnncli.cli.examples docs/tasks.md   # the marked blocks of some pages

A ```console block is rerun when the line before it is a marker:

    <!-- rerun -->                  every "$ " command runs; its whole output replaces the old one
    <!-- rerun: head=N tail=M -->   the same, keeping the first N and last M lines of each output,
                                    with a line "…" where lines were left out

Blocks without a marker (long trainings, excerpts chosen by hand) are left as they are. The
commands run with bash, stdout and stderr together, one after the other in page order (README.md,
then docs/ by name), in one scratch directory with the repository's datasets/ and configs/ linked
in, so a block may use the runs and data files that an earlier block made.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MARKER = re.compile(r"^<!-- rerun(?::\s*head=(\d+)\s+tail=(\d+))?\s*-->$")
ELIDED = "…"


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def trim(output: list[str], head: int | None, tail: int | None) -> list[str]:
    """The first ``head`` and last ``tail`` lines, with "…" for what lies between (all when unset)."""
    if head is None or len(output) <= head + tail:
        return output
    return output[:head] + [ELIDED] + (output[len(output) - tail :] if tail else [])


def run_command(command: str, workdir: Path) -> list[str]:
    """The command's stdout and stderr together, as lines without trailing blanks (rich pads table cells);
    `rnn` is the one installed beside this Python."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-c", command], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env)
    return [line.rstrip() for line in proc.stdout.rstrip("\n").split("\n")] if proc.stdout.strip() else []


def rerun(page: Path, workdir: Path, log=lambda text: None) -> bool:
    """Rerun the marked blocks of ``page`` in ``workdir`` and rewrite it; returns whether it changed."""
    lines = page.read_text(encoding="utf-8").split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        marker = MARKER.match(line.strip())
        if not (marker and i + 1 < len(lines) and lines[i + 1].startswith("```console")):
            i += 1
            continue
        head, tail = (int(marker.group(1)), int(marker.group(2))) if marker.group(1) else (None, None)
        out.append(lines[i + 1])
        i += 2
        while i < len(lines) and not lines[i].startswith("```"):
            if lines[i].startswith("$ "):
                log(f"{page.name}: {lines[i]}")
                out.append(lines[i])
                out += trim(run_command(lines[i][2:], workdir), head, tail)
            i += 1
    text = "\n".join(out)
    changed = text != page.read_text(encoding="utf-8")
    if changed:
        page.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    chosen = [Path(a).resolve() for a in argv] or pages(root)
    with tempfile.TemporaryDirectory(prefix="rnncli-examples-") as tmp:
        workdir = Path(tmp)
        for name in ("datasets", "configs"):
            (workdir / name).symlink_to(root / name, target_is_directory=True)
        for page in chosen:
            if rerun(page, workdir, log=lambda text: sys.stderr.write(text + "\n")):
                sys.stderr.write(f"rewrote {page.relative_to(root)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
