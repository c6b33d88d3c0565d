"""Cells for every workbook and CSV file the app writes: what people typed stays text.

The one place the exports (the statement and shared-charge workbooks, the review pack, the
dashboard, the actuals, the audit log) turn values into cells, so a name, a reference, a payee
or a council can never become a formula in the spreadsheet that opens the file (domain.md
"Names and text"):

- XLSX: openpyxl makes any str beginning with "=" a live formula (and "#N/A" and the like an
  error cell). `append(ws, values)` writes every str as a text cell (data_type "s"; one that
  starts like a formula also gets Excel's quote prefix, so editing it keeps it text). Formulas
  the app itself writes are `Formula("=SUM(...)")` and stay formulas.
- Characters a workbook cannot hold (the C0 controls other than tab, line feed and carriage
  return: openpyxl's IllegalCharacterError; lone surrogates; U+FFFE, U+FFFF) are replaced by
  U+FFFD, in XLSX and CSV alike: the rest of the text survives, marked where a character was.
- CSV: a text cell beginning with "=", "+", "-", "@", tab or carriage return (or the full-width
  = + - @) is prefixed with a single quote, as OWASP's "CSV Injection" advises, so a
  spreadsheet reads it as text. A cell that is wholly a plain decimal number ("-12.50": the
  app's own negative money, or a reference typed as "-5") is left as it is: no spreadsheet runs
  it, and finance systems read it as the number it is. Numbers passed as int or Decimal are
  written as they are.
"""
from __future__ import annotations

import csv
import re

REPLACEMENT = "\ufffd"
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MAX_XLSX_TEXT = 32_767  # Excel's limit for one cell; openpyxl cuts the rest off silently


class Formula(str):
    """A formula the app writes itself (`Formula("=SUM(F2:F9)")`): the only str that becomes one."""


def clean(text: str) -> str:
    """`text` with every character a workbook or XML cannot hold replaced by U+FFFD."""
    return _UNWRITABLE.sub(REPLACEMENT, text)


def risky(text: str) -> bool:
    """True when a spreadsheet would read `text` as a formula (or a command) if it were let."""
    return text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text)


def cell(ws, value):
    """What to hand openpyxl for `value` in sheet `ws` (a normal or write-only worksheet)."""
    if isinstance(value, Formula):
        return str(value)
    if not isinstance(value, str):
        return value
    from openpyxl.cell.cell import Cell  # only when a workbook is written

    c = Cell(ws, row=1, column=1)  # append() sets where it goes
    c._value = clean(value)[:MAX_XLSX_TEXT]
    c.data_type = "s"
    if value.startswith(_FORMULA_START):
        c.quotePrefix = True
    return c


def append(ws, values) -> None:
    """`ws.append(values)` with every str a text cell (see the module's docstring)."""
    ws.append([cell(ws, v) for v in values])


def csv_cell(value):
    """A value for csv.writer: text cleaned and escaped, anything else as it is."""
    if not isinstance(value, str):
        return value
    text = clean(value)
    return "'" + text if risky(text) else text


class Writer:
    """csv.writer whose rows go through csv_cell."""

    def __init__(self, out, **kwargs):
        self._w = csv.writer(out, **kwargs)

    def writerow(self, values) -> None:
        self._w.writerow([csv_cell(v) for v in values])

    def writerows(self, rows) -> None:
        for values in rows:
            self.writerow(values)
