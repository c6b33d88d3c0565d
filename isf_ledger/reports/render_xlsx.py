"""The statement as a workbook finance can check: the figures as issued, the month's ledger lines,
and each total as a formula over the lines beside the issued figure, so a difference shows."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from ..ledger.kinds import kind_of
from ..clock import UK
from ..sheets import DATE_TIME
from ..sheets import DATE, GBP, QUANTITY, Formula, append, fit_columns, print_to_width, table, words
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


def _day(value: str | date | None) -> date | None:
    """A day as a date cell (the lines and figures may carry it as ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) and value else value or None


def _money(text: str) -> Decimal:
    return Decimal(text)


def uk_time(text: str | None) -> datetime | None:
    """An ISO date-time (UTC or any zone) as UK local time to the second: a workbook cell holds
    no zone, and nobody reads microseconds."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(UK).replace(tzinfo=None, microsecond=0)


def render_xlsx(s: dict, lines: list[dict]) -> bytes:
    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    ws.title = "Statement"
    lw = wb.create_sheet("Lines")
    append(lw, ["Transaction", "Date", "Service date", "What", "Description", "Heading", "Available (GBP)"])
    for c in lw[1]:
        c.font = bold
    available = f"person:{s['person_id']}:available"
    for line in lines:
        kind = line.get("original_kind") or line["kind"]  # a reversal under what it reverses
        pence = sum(p["amount"] for p in line["postings"] if p["account"] == available)
        if not pence:
            continue
        append(lw, [line["id"], _day(line["date"]), _day(line["service_date"]), kind_of(line["kind"]).label,
                    line["description"], LABELS.get(HEADINGS.get(kind), kind), Decimal(pence) / 100])
        for col, fmt in ((2, DATE), (3, DATE), (7, GBP)):
            lw.cell(lw.max_row, col).number_format = fmt
    last = max(lw.max_row, 2)
    heads, amounts = f"Lines!$F$2:$F${last}", f"Lines!$G$2:$G${last}"

    append(ws, [f"Statement {s['number']}", s["name"], s["month"]])
    ws["A1"].font = bold
    append(ws, ["Person id", s["person_id"]])
    append(ws, ["Issued at (UK time)", uk_time(s["issued_at"])])
    ws.cell(ws.max_row, 2).number_format = DATE_TIME
    append(ws, ["Replaces statement", s.get("replaces")])
    append(ws, [])
    append(ws, ["Figure", "As issued", "From the lines (formula)", "Difference"])
    for c in ws[ws.max_row]:
        c.font = bold
    append(ws, ["Opening balance", _money(s["opening_balance"])])
    opening_row = ws.max_row
    rows = {}
    for heading in ORDER:
        issued = (s["contingency"]["drawn"] if heading == "contingency_drawn" else
                  s["contingency"]["set_aside"] if heading == "contingency_set_aside" else s[heading])
        sign = "-" if heading in OUTGOING else ""
        r = ws.max_row + 1
        append(ws, [LABELS[heading], _money(issued), Formula(f'={sign}SUMIF({heads},"{LABELS[heading]}",{amounts})'),
                    Formula(f"=B{r}-C{r}")])
        rows[heading] = r
    r = ws.max_row + 1
    plus = "+".join(f"C{rows[h]}" for h in ORDER if h not in OUTGOING)
    minus = "-".join(f"C{rows[h]}" for h in ORDER if h in OUTGOING)
    append(ws, ["Closing balance", _money(s["closing_balance"]), Formula(f"=B{opening_row}+{plus}-{minus}"),
                Formula(f"=B{r}-C{r}")])
    append(ws, ["Net of all lines", None, Formula(f"=SUM({amounts})")])
    append(ws, [])
    append(ws, ["Contingency held at month end", _money(s["contingency"]["remaining"])])
    append(ws, ["Surplus above threshold", _money(s["surplus_above_threshold"])])
    append(ws, ["Council arrears", _money(s["arrears"]["council"]["arrears"])])
    append(ws, ["Person's contribution arrears", _money(s["arrears"]["person"]["arrears"])])
    nxt = s.get("next_instalment")
    if nxt:
        append(ws, ["Next instalment", _money(nxt["amount"]), date.fromisoformat(nxt["date"])])
    if s.get("forecast"):
        append(ws, ["Forecast at plan year end", _money(s["forecast"]["balance"]),
                    _day(s["forecast"]["plan_year_end"])])
    append(ws, [])
    append(ws, ["Hours"] + [words(k) for k in s["hours"]])
    hours_row = ws.max_row + 1
    append(ws, [""] + [Decimal(v) for v in s["hours"].values()])
    for row in ws.iter_rows(min_row=7):
        for c in row[1:]:
            if isinstance(c.value, date):
                c.number_format = DATE
            elif isinstance(c.value, Decimal) or c.data_type == "f":
                c.number_format = QUANTITY if c.row == hours_row else GBP
    ws.column_dimensions["A"].width = 34
    for col in "BCD":
        ws.column_dimensions[col].width = 22
    fit_columns(ws, from_row=2)
    print_to_width(ws, landscape=False)
    lw.column_dimensions["E"].width = 40
    lw.column_dimensions["F"].width = 24
    table(lw)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
