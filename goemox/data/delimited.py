"""The one rule by which goemox reads CSV/TSV rows (training data and texts to predict): quotes are read strictly,
so that a quoted field left open is an error on the line where it opens instead of swallowing the rest of the file,
and a field may be longer than the `csv` module's default limit of 131,072 characters.

Example:

```python
>>> [(row.first, row.cells) for row in delimited_rows(['id,text\\n', '1,"hello,\\n', 'world"\\n'], ",")]
[(1, ['id', 'text']), (2, ['1', 'hello,\\nworld'])]
```"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

FIELD_SIZE_LIMIT = 2**31 - 1
"""The longest field goemox reads (the largest value `csv.field_size_limit` takes on every platform)."""


@dataclass(frozen=True)
class DelimitedRow:
    """One row of a CSV/TSV file.

    Attributes:
        first: the line the row starts on (1-based).
        last: the line it ends on (a quoted field may span lines).
        cells: its fields; empty for a blank line or a row that cannot be read.
        problem: why the row cannot be read, with `line` the line to name; `None` for a good row.
        expected: what was expected instead (with `problem`).
        line: the line the problem lies on.
    """

    first: int
    last: int
    cells: list[str]
    problem: str | None = None
    expected: str | None = None
    line: int | None = None


def delimited_rows(lines: Iterable[str], delimiter: str) -> Iterator[DelimitedRow]:
    """The rows of CSV/TSV text, with the lines each spans; a row that cannot be read says why.

    The lines are read as the rows need them (a file's lines are streamed, not held), keeping only those of the
    row being read.

    Args:
        lines: the file's lines with their endings (split at `\\n`, `\\r\\n` or `\\r` only).
        delimiter: `,` or a tab.

    Example:

    ```python
    >>> next(delimited_rows(['"never closed\\n', 'more\\n'], ",")).problem
    'a quoted field starting on this line is never closed'
    ```"""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    current: list[str] = []  # the lines of the row being read
    ended = False

    def recorded() -> Iterator[str]:
        nonlocal ended
        for line in lines:
            current.append(line)
            yield line
        ended = True

    reader = csv.reader(recorded(), delimiter=delimiter, strict=True)
    last = 0
    while True:
        first = last + 1
        current.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            last = reader.line_num
            if ended and str(err) == "unexpected end of data":
                opened = _open_quote_line(current, first, delimiter)
                problem, expected = "a quoted field starting on this line is never closed", 'a closing quote (")'
                yield DelimitedRow(first, last, [], problem, expected, opened)
                return
            yield DelimitedRow(first, last, [], f"cannot parse the row ({err})", "a well-formed row", first)
            continue
        last = reader.line_num
        yield DelimitedRow(first, last, cells)


def _open_quote_line(lines: Sequence[str], first: int, delimiter: str) -> int:
    """The line on which the last quoted field of `lines` (a row starting on line `first`) opens."""
    state, opened = "start", first
    for number, line in enumerate(lines, start=first):
        for char in line:
            if state == "quoted":
                state = "closed" if char == '"' else state
            elif char == '"' and state in ("start", "closed"):
                state, opened = "quoted", number if state == "start" else opened
            elif char in (delimiter, "\n", "\r"):
                state = "start"
            else:
                state = "unquoted"
    return opened
