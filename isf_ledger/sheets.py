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


# Layout: workbooks a finance person can use as they come (issue 23 item 5) -----------------------

GBP = '"£"#,##0.00;[Red]-"£"#,##0.00'
DATE = "dd/mm/yyyy"
DATE_TIME = "dd/mm/yyyy hh:mm:ss"
QUANTITY = "#,##0.00"
COUNT = "#,##0"
MIN_WIDTH, MAX_WIDTH = 8, 60


def styled(ws, value, number_format: str):
    """A cell holding `value` shown in `number_format` (for write-only sheets; None stays empty)."""
    if value is None:
        return None
    from openpyxl.cell.cell import Cell

    c = Cell(ws, row=1, column=1, value=value)
    c.number_format = number_format
    return c


def words(name: str) -> str:
    """A column's or figure's snake_case name as a heading: "bank_used" -> "Bank used"."""
    return name.replace("_", " ").capitalize()


def value_width(v) -> int:
    """About how many characters a value shows in its cell's format (money with £ and commas)."""
    if v is None:
        return 0
    if isinstance(v, str):
        return max(len(line) for line in v.split("\n"))
    if hasattr(v, "hour"):
        return 19
    if hasattr(v, "year"):
        return 10
    if hasattr(v, "quantize"):
        return len(f"{v:,.2f}") + 2
    return len(str(v))


def fit_streamed(ws, rows: list[list]) -> None:
    """fit_columns for a write-only sheet, from the values it is about to be given (a header
    and rows), before the first row is written."""
    widths: dict[int, int] = {}
    for values in rows:
        for i, v in enumerate(values, 1):
            widths[i] = max(widths.get(i, 0), value_width(v))
    _set_widths(ws, widths)


def fit_columns(ws, *, from_row: int = 1) -> None:
    """Each column as wide as what it shows from `from_row` down (within MIN_WIDTH and
    MAX_WIDTH), never narrower than a width already set: no `###` in a money column."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=from_row):
        for c in row:
            shown = 12 if c.data_type == "f" else value_width(c.value)
            widths[c.column] = max(widths.get(c.column, 0), shown)
    _set_widths(ws, widths)


def _set_widths(ws, widths: dict[int, int]) -> None:
    """Columns (by number) as wide as `widths` characters and a margin, within the bounds; a
    width already set is kept if wider."""
    from openpyxl.utils import get_column_letter

    for col, n in widths.items():
        dim = ws.column_dimensions[get_column_letter(col)]
        set_width = dim.width if dim.customWidth else 0
        dim.width = max(set_width, min(max(n + 2, MIN_WIDTH), MAX_WIDTH))


def print_to_width(ws, *, landscape: bool = True) -> None:
    """Printed fitted to the page's width, as many pages long as it takes."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def table(ws, *, header_row: int = 1, last_row: int | None = None, columns: int | None = None,
          fit: bool = True) -> None:
    """A sheet that is a table under a header row: the header frozen and printed on every page,
    a filter over the table, columns fitted, printed to the page's width. A write-only sheet
    gives `last_row` and `columns` (and is not fitted: it cannot be read back)."""
    from openpyxl.utils import get_column_letter

    last_row = ws.max_row if last_row is None else last_row
    columns = ws.max_column if columns is None else columns
    ws.freeze_panes = f"A{header_row + 1}"
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(columns)}{max(last_row, header_row)}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    if fit:
        fit_columns(ws, from_row=header_row)
    print_to_width(ws)
