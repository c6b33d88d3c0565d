"""The client bank account's reconciliation as a report finance can file and check: the bank
statement's balance, each receipt and payment the ledger holds that the bank does not yet show,
the balance they make against the client money held and the sum of the funds, each bank line the
ledger does not hold (with the movement it differs from when it is one mistyped), the difference,
and who completed it and when (accounts.reconciliation.report).

The workbook's cells come through sheets.py, so a description a bank or a person typed stays
text; each list's total is a formula beside the figure the report states, so a difference shows.
The PDF is a tagged page (pdfdoc, through render_pdf's letter): headings, sentences and tables
with their header cells, in reading order.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from io import BytesIO

from ..money import format_pence
from ..provider import current
from ..sheets import DATE, GBP, Formula, append, fit_columns, print_to_width, table
from .pdfdoc import PT, face
from .render_pdf import _Letter, day, pounds

TITLE = "Client bank account reconciliation"


def _money(pence: int | None) -> Decimal | None:
    return None if pence is None else Decimal(pence) / 100


def _signed(pence: int) -> str:
    return ("minus " if pence < 0 else "") + pounds(format_pence(pence))


def summary(r: dict) -> list[tuple[str, int | None]]:
    """The figures, in the order a reconciliation reads (the same in both documents)."""
    return [("Balance on the bank statement", r["bank_balance"]),
            ("Add: receipts not yet on the bank", r["outstanding_receipts"]),
            ("Less: payments not yet on the bank", r["outstanding_payments"]),
            ("Balance the ledger expects at the bank", r["adjusted_bank_balance"]),
            ("Client money held (the ledger)", r["client_money_held"]),
            ("Bank difference", r["bank_difference"]),
            ("Sum of every fund", r["funds_total"]),
            ("Difference: client money held less the funds", r["difference"])]


def render_xlsx(r: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    ws.title = "Reconciliation"
    append(ws, [TITLE, None, None])
    ws["A1"].font = bold
    append(ws, ["As at", r["as_of"], None])
    append(ws, ["Bank statement dated", r["bank_date"], None])
    for row in (2, 3):
        ws.cell(row, 2).number_format = DATE
    append(ws, ["Figure", "Amount (GBP)", "Worked out from the lists"])
    for c in ws[4]:
        c.font = bold
    lists = {"Add: receipts not yet on the bank": ("Receipts", len(r["receipts"])),
             "Less: payments not yet on the bank": ("Payments", len(r["payments"]))}
    for label, pence in summary(r):
        check = None
        if label in lists:
            sheet, n = lists[label]
            check = Formula(f"=ABS(SUM('{sheet}'!F2:F{max(n + 1, 2)}))")
        elif label == "Balance the ledger expects at the bank":
            check = Formula("=B5+B6-B7")
        elif label == "Bank difference":
            check = Formula("=B8-B9")
        append(ws, [label, _money(pence), check])
        ws.cell(ws.max_row, 2).number_format = GBP
        ws.cell(ws.max_row, 3).number_format = GBP
    append(ws, ["Bank lines the ledger does not hold", r["unmatched_bank_lines"], None])
    append(ws, ["Last reconciliation completed", r["last_reconciled"], None])
    ws.cell(ws.max_row, 2).number_format = DATE
    append(ws, ["This reconciliation completed by", r["completed_by"] or ("" if r["completed_at"] else "not completed"),
                None])
    append(ws, ["Completed at (UTC)", r["completed_at"].replace(tzinfo=None) if r["completed_at"] else None, None])
    ws.cell(ws.max_row, 2).number_format = "dd/mm/yyyy hh:mm"
    fit_columns(ws)
    print_to_width(ws, landscape=False)

    for name, rows in (("Receipts", r["receipts"]), ("Payments", r["payments"])):
        sh = wb.create_sheet(name)
        append(sh, ["Transaction", "Date", "What", "Description", "Reference", "Amount (GBP)"])
        for c in sh[1]:
            c.font = bold
        for m in rows:
            append(sh, [m["transaction_id"], m["date"], m["what"], m["description"], m["reference"],
                        _money(m["amount"])])
            sh.cell(sh.max_row, 2).number_format = DATE
            sh.cell(sh.max_row, 6).number_format = GBP
        table(sh)
    sh = wb.create_sheet("Unmatched lines")
    append(sh, ["Bank line", "Date", "Description", "Reference", "Amount (GBP)", "Seems to be transaction",
                "Its amount (GBP)", "Differs by (GBP)"])
    for c in sh[1]:
        c.font = bold
    for ln in r["lines"]:
        near = ln["near"]
        append(sh, [ln["line_id"], ln["date"], ln["description"], ln["reference"], _money(ln["amount"]),
                    near["transaction_id"] if near else None, _money(near["amount"]) if near else None,
                    _money(ln["differs_by"])])
        sh.cell(sh.max_row, 2).number_format = DATE
        for col in (5, 7, 8):
            sh.cell(sh.max_row, col).number_format = GBP
    table(sh)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


class _Report(_Letter):
    def columns(self, caption: str, head: list[str], rows: list[list[str]], widths: list[float],
                right: set[int]) -> None:
        """A table of several columns: its header row's cells are column headers (TH), each
        row's first a row header; a long cell wraps within its column; amounts flush right."""
        pdf, size = self.pdf, self.size - 2
        step = size * 1.35 / PT
        self.need(step * 3 + (self.size + 3) * 2.5 / PT)
        self.block("h", caption)
        tbl = pdf.elem("Table")
        scale = self.width / sum(widths)
        widths = [w * scale for w in widths]
        lefts = [self.left + sum(widths[:i]) for i in range(len(widths))]
        for i, row in enumerate([head, *rows]):
            style = "B" if i == 0 else ""
            cells = [self.lines(text, style, size, w - 2) or [""] for text, w in zip(row, widths)]
            height = step * max(len(c) for c in cells) + step * 0.3
            self.need(height)
            tr = pdf.elem("TR", tbl)
            for j, lines in enumerate(cells):
                header = i == 0 or j == 0
                scope = "Column" if i == 0 else "Row"
                e = pdf.elem("TH" if header else "TD", tr, attrs=f"<</O /Table /Scope /{scope}>>" if header else None)
                if pdf.lacks(row[j]):
                    e.actual = row[j]
                x = lefts[j]
                if j in right:
                    x = lefts[j] + widths[j] - 1 - face(style).width(lines[0]) * size / 1000 / PT
                with pdf.marked(e):
                    pdf.text(x, self.y + 0.78 * step, "\n".join(lines), style, size, step)
            if i == 0:
                with pdf.artifact():
                    pdf.colour(stroke=(120, 120, 120), width=0.2)
                    pdf.line(self.left, self.y + height, self.left + self.width, self.y + height)
            self.y += height
        self.y += step * 0.5


def _day(d) -> str:
    return day(d.isoformat()) if d else "none"


def _short(d) -> str:
    """A day in a table's narrow column: 30 Oct 2026."""
    return f"{d.day} {d:%b %Y}"


def render_pdf(r: dict) -> bytes:
    created = r["completed_at"] or datetime.combine(r["as_of"] or date.today(), time(), timezone.utc)
    doc = _Report(False, f"{TITLE} as at {_day(r['as_of'])}", TITLE, created, current().name)
    doc.block("title", f"{TITLE} as at {_day(r['as_of'])}")
    if r["bank_balance"] is None:
        doc.block("p", "No bank statement with a closing balance is dated on or before this day, "
                       "so there is nothing to reconcile yet.")
        return doc.pdf.output()
    agree = r["bank_difference"] == 0 and r["difference"] == 0
    doc.block("p", f"The bank statement dated {_day(r['bank_date'])} shows {_signed(r['bank_balance'])}. "
                   + ("The bank, the ledger and the funds agree to the penny." if agree else
                      f"The bank difference is {_signed(r['bank_difference'])} and the difference between the "
                      f"client money held and the funds is {_signed(r['difference'])}."))
    if r["completed_at"]:
        doc.block("p", f"Completed by {r['completed_by'] or 'the system'} on "
                       f"{r['completed_at']:%d %B %Y at %H:%M} UTC.")
    else:
        doc.block("p", "This reconciliation has not been completed."
                       + (f" The last one completed was as at {_day(r['last_reconciled'])}."
                          if r["last_reconciled"] else ""))
    doc.table("The figures", ("Figure", "Amount"), [
        (label, "none" if pence is None else ("-" if pence < 0 else "") + pounds(format_pence(pence)))
        for label, pence in summary(r)])
    widths, right = [16, 16, 24, 30, 18], {4}
    for caption, rows in (("Receipts not yet on the bank", r["receipts"]),
                          ("Payments not yet on the bank", r["payments"])):
        if rows:
            doc.columns(caption, ["Transaction", "Date", "What", "Description", "Amount"],
                        [[str(m["transaction_id"]), _short(m["date"]), m["what"],
                          " ".join(x for x in (m["description"], m["reference"]) if x),
                          pounds(format_pence(abs(m["amount"])))] for m in rows], widths, right)
        else:
            doc.block("h", caption)
            doc.block("p", "None.")
    if r["lines"]:
        doc.columns("Bank lines the ledger does not hold",
                    ["Bank line", "Date", "Description", "Amount", "Seems to be", "Differs by"],
                    [[str(ln["line_id"]), _short(ln["date"]),
                      " ".join(x for x in (ln["description"], ln["reference"]) if x),
                      format_pence(ln["amount"]),
                      f"transaction {ln['near']['transaction_id']} of {format_pence(ln['near']['amount'])}"
                      if ln["near"] else "nothing in the ledger", format_pence(ln["differs_by"])]
                     for ln in r["lines"]], [14, 16, 30, 16, 26, 16], {3, 5})
    else:
        doc.block("h", "Bank lines the ledger does not hold")
        doc.block("p", "None: every line of the bank statement is matched to the ledger.")
    return doc.pdf.output()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_file(report: dict, as_of: date, format: str) -> tuple[bytes, str, str]:
    """The report as a file to send: its bytes, media type and name (`format` pdf or xlsx)."""
    if format == "xlsx":
        return render_xlsx(report), XLSX, f"reconciliation-{as_of}.xlsx"
    return render_pdf(report), "application/pdf", f"reconciliation-{as_of}.pdf"
