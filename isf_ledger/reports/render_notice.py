"""The letter telling a person the council may recover some of their surplus: plain English,
in the statement's style (render_pdf), never blaming: a surplus means money was not needed,
and the person may ask questions or plan to use it before the date."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from ..provider import document_provider
from .render_pdf import SOURCE_WORDS, _Letter, day, month_name, pounds, threshold_words, who_we_are


def notice_blocks(n: dict) -> list[tuple[str, str]]:
    return [
        ("title", "About the money left in your fund"),
        ("p", f"This letter is for {n['name']}. It is dated {day(n['written_on'])}."),
        ("h", "What a surplus is"),
        ("p", threshold_words(n["threshold_weeks"], n["threshold"])),
        ("p", f"On {day(n['written_on'])} your fund had {pounds(n['available'])}. "
              f"Of this, {pounds(n['bank_value'])} is kept for hours you saved, "
              f"so your surplus is {pounds(n['surplus'])}. This is not a problem. It can happen when "
              "plans change, or when support costs less than was planned."),
    ] + _since_statement(n) + [
        ("h", "What the council may do"),
        ("p", f"The council that pays for your support may take back {pounds(n['amount'])} of the surplus. "
              f"This will not happen before {day(n['date'])}. The {n['threshold_weeks']} weeks of support money stay "
              "with you, and so does the money for your saved hours."),
        ("p", "Your support does not change. Your plan stays the same."),
        ("h", "What you can do"),
        ("p", "You do not need to do anything. But if there is something in your plan you would like to "
              f"use this money for, please tell us before {day(n['date'])}. We will talk to the council with you."),
        ("h", "Questions"),
        ("p", "You have the right to ask questions about this, and to ask the council to look at it again. "
              "Please ask us if any of this is not clear. We can go through it with you, or with someone "
              "you trust."),
    ] + who_we_are(n.get("provider"))


def _since_statement(n: dict) -> list[tuple[str, str]]:
    """Why the balance here is not the last statement's: the payments that came in since."""
    since = n.get("since_statement")
    if not since or since["closing_balance"] == n["available"] or not since["receipts"]:
        return []
    came = "; ".join(f"{pounds(r['amount'])} from {SOURCE_WORDS.get(r['source'], r['source'])} on {day(r['date'])}"
                     for r in since["receipts"])
    return [("p", f"Your statement for {month_name(since['month'])} showed {pounds(since['closing_balance'])}. "
                  f"Since then this came in: {came}.")]


def render_notice(n: dict) -> bytes:
    """The letter's PDF (the provider as the letter carries it, else as set now)."""
    n = {**n, "provider": document_provider(n)}
    doc = _Letter(False, f"About the money left in your fund: {n['name']}", "Notice of surplus",
                  datetime.combine(date.fromisoformat(n["written_on"]), time(), timezone.utc), n["provider"]["name"])
    doc.blocks(notice_blocks(n))
    return doc.pdf.output()
