"""What every benchmark script does with its table: write it atomically where asked, return it."""

from __future__ import annotations

from mecopt.io import write_text_atomic


def finish(lines: list[str], out: str | None) -> str:
    text = "\n".join(lines)
    if out:
        write_text_atomic(out, text + "\n")
    return text
