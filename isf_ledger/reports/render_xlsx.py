"""The statement as a workbook finance can check: the figures as issued, the month's ledger lines,
and each total as a formula over the lines beside the issued figure, so a difference shows."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from ..accounts.kinds import kind_of
from .figures import HEADINGS, OUTGOING

LABELS = {
    "receipts_total": "Money in", "management_fee_total": "Management fee", "support_charged_total": "Support",
    "shared_support_total": "Shared support", "spend_total": "Bought for the person",
    "clawback_total": "Returned to the council",
    "closed_out_total": "Paid out when the fund closed", "contingency_drawn": "Contingency drawn",
    "contingency_set_aside": "Contingency set aside",
}
ORDER = ("receipts_total", "management_fee_total", "support_charged_total", "shared_support_total", "spend_total",
         "clawback_total", "closed_out_total", "contingency_drawn", "contingency_set_aside")


def _money(text: str) -> Decimal:
    return Decimal(text)


def render_xlsx(s: dict, lines: list[dict]) -> bytes:
    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    ws.title = "Statement"
    lw = wb.create_sheet("Lines")
    lw.append(["Transaction", "Date", "Service date", "What", "Description", "Heading", "Available (GBP)"])
    for c in lw[1]:
        c.font = bold
    available = f"person:{s['person_id']}:available"
    for line in lines:
        kind = line.get("original_kind") or line["kind"]  # a reversal under what it reverses
        pence = sum(p["amount"] for p in line["postings"] if p["account"] == available)
        if not pence:
            continue
        lw.append([line["id"], line["date"], line["service_date"], kind_of(line["kind"]).label,
                   line["description"], HEADINGS.get(kind, kind), Decimal(pence) / 100])
        lw.cell(lw.max_row, 7).number_format = "#,##0.00"
    last = max(lw.max_row, 2)
    heads, amounts = f"Lines!$F$2:$F${last}", f"Lines!$G$2:$G${last}"

    ws.append([f"Statement {s['number']}", s["name"], s["month"]])
    ws["A1"].font = bold
    ws.append(["Person id", s["person_id"]])
    ws.append(["Issued at", s["issued_at"]])
    ws.append(["Replaces statement", s.get("replaces")])
    ws.append([])
    ws.append(["Figure", "As issued", "From the lines (formula)", "Difference"])
    for c in ws[ws.max_row]:
        c.font = bold
    ws.append(["Opening balance", _money(s["opening_balance"])])
    opening_row = ws.max_row
    rows = {}
    for heading in ORDER:
        issued = (s["contingency"]["drawn"] if heading == "contingency_drawn" else
                  s["contingency"]["set_aside"] if heading == "contingency_set_aside" else s[heading])
        sign = "-" if heading in OUTGOING else ""
        r = ws.max_row + 1
        ws.append([LABELS[heading], _money(issued), f'={sign}SUMIF({heads},"{heading}",{amounts})', f"=B{r}-C{r}"])
        rows[heading] = r
    r = ws.max_row + 1
    plus = "+".join(f"C{rows[h]}" for h in ORDER if h not in OUTGOING)
    minus = "-".join(f"C{rows[h]}" for h in ORDER if h in OUTGOING)
    ws.append(["Closing balance", _money(s["closing_balance"]), f"=B{opening_row}+{plus}-{minus}", f"=B{r}-C{r}"])
    ws.append(["Net of all lines", None, f"=SUM({amounts})"])
    ws.append([])
    ws.append(["Contingency held at month end", _money(s["contingency"]["remaining"])])
    ws.append(["Surplus above threshold", _money(s["surplus_above_threshold"])])
    ws.append(["Council arrears", _money(s["arrears"]["council"]["arrears"])])
    ws.append(["Person's contribution arrears", _money(s["arrears"]["person"]["arrears"])])
    nxt = s.get("next_instalment")
    if nxt:
        ws.append(["Next instalment", _money(nxt["amount"]), date.fromisoformat(nxt["date"])])
    if s.get("forecast"):
        ws.append(["Forecast at plan year end", _money(s["forecast"]["balance"]), s["forecast"]["plan_year_end"]])
    ws.append([])
    ws.append(["Hours"] + [k for k in s["hours"]])
    ws.append([""] + [Decimal(v) for v in s["hours"].values()])
    for row in ws.iter_rows(min_row=7, max_col=4):
        for c in row[1:]:
            c.number_format = "#,##0.00"
    ws.column_dimensions["A"].width = 34
    for col in "BCD":
        ws.column_dimensions[col].width = 22
    lw.column_dimensions["E"].width = 40
    lw.column_dimensions["F"].width = 24
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
