"""The statement as a letter a person can read: plain English, short sentences, every figure in a
sentence that says what it means, real text (selectable, read aloud by screen readers), its
language and title set, and a chart of the plan year drawn with lines and boxes.

Written for the person, never at them: a surplus is good news with a plan, an overdrawn fund is
the provider's to make good, money the council has not paid is not the person's worry.

Drawn by pdfdoc (a tagged PDF/UA page with DejaVu Sans embedded, so any name is written as it
is) with our own word wrap: fpdf2's multi_cell costs ~60 ms a page in line breaking, which
10,000 statements a month cannot afford.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from ..accounts.hours import hours_used
from ..provider import ProviderDetails, document_provider
from .pdfdoc import PT, Doc, Elem, face

_WORD_WIDTHS: dict[str, dict[str, int]] = {}  # style -> word -> width in 1/1000 of the type size


def pounds(text: str) -> str:
    """'1800.00' -> '£1,800.00'; negative amounts are said in words by the caller."""
    d = Decimal(text)
    return f"£{abs(d):,.2f}"


def day(text: str) -> str:
    d = date.fromisoformat(text[:10])
    return f"{d.day} {d:%B %Y}"


def month_name(month: str) -> str:
    return f"{date.fromisoformat(month + '-01'):%B %Y}"


def hours(text) -> str:
    """Hours said as hours and minutes, as people say them: '3.50' -> '3 hours 30 minutes',
    '1.00' -> '1 hour', '0.25' -> '15 minutes', '0' -> '0 hours' (the nearest minute)."""
    minutes = int((Decimal(str(text)) * 60).to_integral_value(ROUND_HALF_UP))
    h, m = divmod(abs(minutes), 60)
    parts = ([f"{h} hour{'s' if h != 1 else ''}"] if h else []) + ([f"{m} minute{'s' if m != 1 else ''}"] if m else [])
    return ("minus " if minutes < 0 else "") + (" ".join(parts) or "0 hours")


def fee_rate(rate: str) -> str:
    """'0.10' -> '10p in every £1'."""
    pence = (Decimal(rate) * 100).normalize()
    return f"{pence:f}p in every £1"


# The two things every letter explains, in the same words everywhere (domain.md "Contingency", "Underspend").
CONTINGENCY_WORDS = "Some money is kept to one side in case you need more help. We call it money kept for extra needs."


def threshold_words(weeks: int, amount: str | None = None) -> str:
    of = f", {pounds(amount)}" if amount is not None else ""
    return (f"Your fund may keep {weeks} weeks of your support money{of}, so bills that come late can be paid. "
            "Money on top of that is called a surplus.")


SOURCE_WORDS = {"council": "the council", "health": "the health service",
                "client_contribution": "your own part", "other": "other money",
                "bank_interest": "interest from the bank"}


def interest_words(interest: dict, you: str = "you", your: str = "your") -> str:
    """How interest on the client money account is handled (the provider's setting when the
    statement was made) and, when it is shared, the person's share this month."""
    if interest.get("handling") == "provider":
        return ("The bank pays a little interest on the account where we keep everyone's money. We, the "
                f"provider, keep that interest; none of it is added to {your} money.")
    words = ("The bank pays a little interest on the account where we keep everyone's money. We share it out: "
             "each person gets a part in step with how much money they had there, day by day.")
    received = Decimal(interest.get("received") or "0")
    if received > 0:
        return words + f" {your.capitalize()} share this month was {pounds(interest['received'])}."
    return words + f" {you.capitalize()} had no share this month."
FEW_ITEMS = 5  # things bought are listed one by one up to this many, grouped by kind above it

REASON_WORDS = {"moved_provider": "You moved to a new provider.",
                "direct_payment": "You now get a direct payment instead.",
                "died": "", "other": ""}


def _final_words(s: dict, fin: dict) -> list[tuple[str, str]]:
    """Where the money went and as what, by the closing reason; nothing chased."""
    died = fin.get("reason") == "died"
    whose = "the fund" if died else "your fund"
    out = [("h", "Your fund has closed"),
           ("p", f"{whose.capitalize()} closed on {day(fin['closed_on'])}. This is its last statement. "
                 + REASON_WORDS.get(fin.get("reason") or "other", ""))]
    if Decimal(fin["paid_out"]):
        if fin["destination"] == "council":
            went = (f"We paid the {pounds(fin['paid_out'])} left back to the council as a refund "
                    f"(reference {fin['reference']}).")
        else:
            went = (f"We sent the {pounds(fin['paid_out'])} left to the new holder of {whose} as a transfer "
                    f"(reference {fin['reference']}), so it keeps paying for support.")
        out.append(("p", went + " This includes the money kept for extra needs."))
    else:
        out.append(("p", f"There was no money left in {whose} to pay out."))
    return out


def letter(s: dict) -> list[tuple[str, str]]:
    """The statement as (style, text) blocks: 'title', 'h' (a heading), 'p' (a sentence or two),
    'li' (an item of a list). Only what happened is said: a figure of nothing is left out."""
    mon = month_name(s["month"])
    short = f"{date.fromisoformat(s['month'] + '-01'):%B}"
    fin = s.get("final")
    died = bool(fin) and fin.get("reason") == "died"
    you, your = ("they", "their") if died else ("you", "your")
    out = [("title", f"Money for {mon}" if died else f"Your money for {mon}"),
           ("p", (f"This is for the family or representative of {s['name']}. We are very sorry for your loss. "
                  if died else f"This is for {s['name']}. ")
                 + f"It is statement number {s['number']}, made on {day(s['issued_at'])}.")]
    if s.get("replaces"):
        why = (s.get("reason") or "we found a mistake").rstrip().rstrip(".")
        out.append(("p", f"It takes the place of statement number {s['replaces']}. "
                         f"We changed it because: {why}. The money in it is the same."))
    period = s.get("period") or {}
    if fin and period.get("to"):
        out.append(("p", f"It covers {day(period['from'])} to {day(period['to'])}, the day the fund closed."))
    out += [("p", f"The fund is money kept just for {'them' if died else 'you'} and {your} support. "
                  "We keep it apart from other money."),
            ("h", "At the start"),
            ("p", f"{you.capitalize()} had {pounds(s['opening_balance'])} on the first day of {short}."
             if Decimal(s["opening_balance"]) >= 0 else
             f"On the first day of {short} the fund was {pounds(s['opening_balance'])} below zero. "
             "We, the provider, cover this.")]
    if Decimal(s["receipts_total"]):
        out += [("h", "What came in"),
                ("p", f"{pounds(s['receipts_total'])} came in during {short}. This is money paid in for "
                      f"{your} support. It came from:")]
        paid_in = s.get("paid_in") or {}
        for source in sorted(paid_in, key=lambda k: list(SOURCE_WORDS).index(k) if k in SOURCE_WORDS else 99):
            out.append(("li", f"{SOURCE_WORDS.get(source, source)}: {pounds(paid_in[source])}"))
    if s.get("interest"):
        out += [("h", "Interest from the bank"), ("p", interest_words(s["interest"], you, your))]
    out.append(("h", "What it paid for"))
    if Decimal(s["support_charged_total"]):
        out.append(("p", f"Support: {pounds(s['support_charged_total'])}. This is the help our staff gave."))
    if Decimal(s["shared_support_total"]):
        out.append(("p", f"Shared support: {pounds(s['shared_support_total'])}. This is {your} part of help "
                         "shared with others, like a sleep-in."))
    if Decimal(s["spend_total"]):
        out.append(("p", f"Things bought: {pounds(s['spend_total'])}. We paid this to others for {you}:"))
        items = s.get("spend_items") or []
        if len(items) <= FEW_ITEMS:
            out += [("li", f"{i['payee']}, {i['what'].rstrip('.')}: {pounds(i['amount'])}") for i in items]
        else:
            kinds: dict[str, Decimal] = {}
            count: dict[str, int] = {}
            for i in items:
                kinds[i["category"]] = kinds.get(i["category"], Decimal(0)) + Decimal(i["amount"])
                count[i["category"]] = count.get(i["category"], 0) + 1
            out += [("li", f"{k.replace('_', ' ')}: {count[k]} things, {pounds(str(v))}") for k, v in kinds.items()]
    if Decimal(s["management_fee_total"]):
        rate = s.get("management_fee_rate")
        out.append(("p", f"Our fee: {pounds(s['management_fee_total'])}. This pays us to look after the fund."
                         + (f" It is {fee_rate(rate)} paid in." if rate else "")))
    if Decimal(s["clawback_total"]):
        out.append(("p", f"Paid back to the council: {pounds(s['clawback_total'])}. This was agreed first."))
    h = s["hours"]
    used = hours_used(h)
    out.append(("h", "Hours"))
    if not fin and Decimal(h["planned"]):
        out.append(("p", f"The plan gave {hours(h['planned'])} of help this month."))
    out.append(("p", f"{you.capitalize()} used {hours(used)} of help."
                     + (f" Of these, {hours(h['bank_used'])} were saved hours." if Decimal(h["bank_used"]) else "")))
    not_used = []
    if Decimal(h["refused"]):
        not_used.append(f"{you} said no to {hours(h['refused'])} on the day")
    if Decimal(h["unplanned"]):
        not_used.append(f"{hours(h['unplanned'])} were not used and not planned ahead")
    if not_used:
        out.append(("p", " and ".join(not_used).capitalize() + ". We still pay staff for these, "
                         "so they are part of the cost."))
    if Decimal(h["banked"]):
        out.append(("p", f"{you.capitalize()} saved {hours(h['banked'])} to use later."))
    if Decimal(h["bank_balance"]) and not fin:
        out.append(("p", f"{you.capitalize()} now have {hours(h['bank_balance'])} saved."))
    if Decimal(h["provider_cancelled"]):
        out.append(("p", f"We could not give {hours(h['provider_cancelled'])}. Nobody pays for these. "
                         "We are sorry."))
    c = s["contingency"]
    if not fin or Decimal(c["set_aside"]) or Decimal(c["drawn"]):
        out += [("h", "Money kept for extra needs"), ("p", CONTINGENCY_WORDS)]
        moved = []
        if Decimal(c["set_aside"]):
            moved.append(f"{pounds(c['set_aside'])} was put there")
        if Decimal(c["drawn"]):
            moved.append(f"{pounds(c['drawn'])} was used")
        out.append(("p", (f"This month {' and '.join(moved)}. " if moved else "")
                         + f"{pounds(c['remaining'])} is kept there now."))
    out.append(("h", "What is left"))
    if s["overdrawn"]:
        out.append(("p", f"At the end of {short} the fund was {pounds(s['closing_balance'])} below zero. "
                         "This is because support came before the money for it. You do not need to do "
                         f"anything. We, the provider, will make good the {pounds(s['provider_makes_good'])} from "
                         "our own money. We will never take it from anyone else's fund."))
    else:
        out.append(("p", f"{you.capitalize()} have {pounds(s['closing_balance'])} at the end of {short}."
                    if not fin else f"The fund has {pounds(s['closing_balance'])} at the end."))
    if fin:  # the last statement of a fund closed when the person left: nothing to come, nothing chased
        out += _final_words(s, fin)
    out.append(("h", "What happens next"))
    if fin:
        out.append(("p", "Nothing more will be paid in or taken out. Nobody needs to pay anything or do anything."))
    else:
        out += _next_words(s, short)
    for item in s.get("late_items") or []:
        out.append(("p", f"Late item: {item['what']} of {pounds(item['amount'])} for {day(item['service_date'])} "
                         f"came to us after this month was closed. It is counted in {month_name(item['counted_in'])}."))
    out += [("h", "Questions"),
            ("p", "Please ask us if any of this is not clear. We can go through it with you, or with someone "
                  "you trust.")]
    return out + who_we_are(s.get("provider"), "the fund" if died else "your fund")


def _next_words(s: dict, short: str) -> list[tuple[str, str]]:
    out = []
    nxt = s.get("next_instalment")
    if nxt:
        out.append(("p", f"The next payment in is {pounds(nxt['amount'])}, due on {day(nxt['date'])}."))
    ar = s["arrears"]
    if Decimal(ar["council"]["arrears"]):
        out.append(("p", f"The council has not yet paid {pounds(ar['council']['arrears'])} that was due. "
                         "We will ask them for it. You do not need to do anything."))
    if Decimal(ar["person"]["arrears"]):
        out.append(("p", f"Your own part of {pounds(ar['person']['arrears'])} has not come in yet. "
                         "If this is hard for you, please talk to us. We can help."))
    sur = s["surplus"]
    fc = s.get("forecast")
    year_ends = bool(fc) and fc["plan_year_end"] == (s.get("period") or {}).get("to")
    if year_ends:  # the plan year's last month: what is left, and what happens to it
        out.append(("p", f"Your plan year ends on {day(fc['plan_year_end'])}. You have {pounds(s['closing_balance'])} "
                         f"left at its end. {threshold_words(sur['threshold_weeks'], sur['threshold'])}"))
        if Decimal(sur["above_threshold"]):
            out.append(("p", f"Your surplus is {pounds(sur['above_threshold'])}. Under your council's rules they may "
                             f"ask for it back. If they do, we will tell you at least {sur['notice_days']} days "
                             "before. The rest stays in your fund for next year."))
        else:
            out.append(("p", "You have no surplus, so all of it stays in your fund for next year."))
        return out
    if Decimal(sur["above_threshold"]):
        out.append(("p", f"You have a surplus of {pounds(sur['above_threshold'])}. "
                         f"{threshold_words(sur['threshold_weeks'])} That is fine. The council may ask for some of "
                         f"it back. If they do, we will tell you at least {sur['notice_days']} days before. "
                         "Talk to us if you would like to plan how to use it."))
    if fc:
        bal = Decimal(fc["balance"])
        where = (f"you will have about {pounds(fc['balance'])} left" if bal >= 0 else
                 f"your fund will be about {pounds(fc['balance'])} short")
        out.append(("p", f"If you keep using money as you did in the last three months, {where} when your plan "
                         f"year ends on {day(fc['plan_year_end'])}."
                         + (" We will talk with you about it. You have done nothing wrong." if bal < 0 else "")))
    return out


def who_we_are(provider: dict | None, whose: str = "your fund") -> list[tuple[str, str]]:
    """Who "we" are, how to reach the person who answers questions, and how to get the letter
    another way: the end of every statement and letter ('li' blocks are one list)."""
    p = provider or ProviderDetails().as_dict()
    out = [("h", "Who we are"), ("p", f"We are {p['name']}. We look after {whose}.")]
    if p.get("contact_name"):
        out.append(("p", f"If you have a question, please ask {p['contact_name']}. You can:"))
    elif p.get("address_lines") or p.get("phone") or p.get("email"):
        out.append(("p", "If you have a question, you can:"))
    if p.get("phone"):
        out.append(("li", f"phone {p['phone']}"))
    if p.get("email"):
        out.append(("li", f"e-mail {p['email']}"))
    if p.get("address_lines"):
        out.append(("li", f"write to {', '.join(p['address_lines'])}"))
    out.append(("p", "You can have this in another way: in large print, read aloud to you, or in easy read. "
                     "Just ask us."))
    return out


def money_table(s: dict) -> list[tuple[str, str]]:
    """The month's money in one table, row by row from the start to the end (rows that are
    zero left out, but for the start and the end)."""
    def amount(text: str) -> str:
        return ("minus " if Decimal(text) < 0 else "") + pounds(text)

    c = s["contingency"]
    rows = [("At the start", s["opening_balance"]), ("Came in", s["receipts_total"]),
            ("Your support", "-" + s["support_charged_total"]), ("Shared support", "-" + s["shared_support_total"]),
            ("Things bought for you", "-" + s["spend_total"]), ("Our fee", "-" + s["management_fee_total"]),
            ("Paid back to the council", "-" + s["clawback_total"]),
            ("Paid out when the fund closed", "-" + s.get("closed_out_total", "0")),
            ("Put with the money kept for extra needs", "-" + c["set_aside"]),
            ("Taken from the money kept for extra needs", c["drawn"])]
    kept = [(what, amount(v.replace("--", ""))) for i, (what, v) in enumerate(rows)
            if i == 0 or Decimal(v.replace("--", ""))]
    return kept + [("At the end", amount(s["closing_balance"]))]


def text_of(s: dict) -> str:
    """The statement's words, as the person reads them (the reading-grade test measures this)."""
    return "\n".join(t for _, t in letter(s))


class _Letter:
    """A letter laid out on a tagged page (pdfdoc): headings, paragraphs and the chart, each a
    structure element in reading order."""

    def __init__(self, large: bool, title: str, subject: str, created: datetime, author: str):
        self.large = large
        self.size = 18 if large else 12
        self.pdf = Doc(title, author=author, subject=subject, created=created)
        self.top, self.bottom, self.left = 18.0, self.pdf.h - 18, 20.0
        self.width = self.pdf.w - 40
        self.y = self.top
        self.pdf.add_page()

    def lines(self, text: str, style: str, size: float, room: float) -> list[str]:
        """Words wrapped to the page; a word's width is kept once measured (the same few hundred
        words fill every statement)."""
        f = face(style)
        widths = _WORD_WIDTHS.setdefault(style, {})
        if len(widths) > 20_000:  # names and amounts differ by statement: keep the cache small
            widths.clear()
        scale = size / 1000 / PT
        space = f.cw[32] * scale
        out, line, width = [], [], 0.0
        for word in text.split():
            units = widths.get(word)
            if units is None:
                units = widths[word] = f.width(word)
            w = units * scale
            if line and width + space + w > room:
                out.append(" ".join(line))
                line, width = [word], w
            else:
                width += (space if line else 0) + w
                line.append(word)
        return out + ([" ".join(line)] if line else [])

    def need(self, height: float) -> None:
        """A new page first when this much would not fit."""
        if self.y + height > self.bottom:
            self.pdf.add_page()
            self.y = self.top

    def block(self, style: str, text: str, parent: Elem | None = None, tag: str | None = None,
              indent: float = 0) -> Elem:
        """A heading ('title', 'h') or paragraph ('p') as its structure element, wrapped line by line."""
        pdf = self.pdf
        size = {"title": self.size + 8, "h": self.size + 3}.get(style, self.size)
        bold = "B" if style in ("title", "h") else ""
        step = size * 1.4 / PT  # a line's height in mm (1.4 times the type)
        if style == "h":
            self.y += step * 0.6
        e = pdf.elem(tag or {"title": "H1", "h": "H2"}.get(style, "P"), parent)
        if pdf.lacks(text):
            e.actual = text
        lines = self.lines(text, bold, size, self.width - indent)
        with pdf.marked(e):
            while lines:
                if self.y + step > self.bottom:
                    pdf.add_page()
                    self.y = self.top
                fit = max(1, int((self.bottom - self.y) // step))
                here, lines = lines[:fit], lines[fit:]
                pdf.text(self.left + indent, self.y + 0.78 * step, "\n".join(here), bold, size, step)
                self.y += step * len(here)
        self.y += step * 0.35
        return e

    def blocks(self, blocks: list[tuple[str, str]]) -> None:
        """Blocks in order; a run of 'li' blocks is one list (L, each item an LI with its LBody)."""
        items = None
        for style, text in blocks:
            if style != "li":
                items = None
                self.block(style, text)
                continue
            if items is None:
                items = self.pdf.elem("L")
            item = self.pdf.elem("LI", items)
            step = self.size * 1.4 / PT
            if self.y + step > self.bottom:
                self.need(step)
            with self.pdf.marked(self.pdf.elem("Lbl", item)):
                self.pdf.text(self.left + 1.5, self.y + 0.78 * step, "•", "", self.size)
            self.block("p", text, parent=item, tag="LBody", indent=step * 1.2)

    def table(self, caption: str, head: tuple[str, str], rows: list[tuple[str, str]]) -> None:
        """A table of two columns (what, amount): its header row and each row's first cell are
        headers (TH, scoped), amounts set flush right."""
        pdf = self.pdf
        step = self.size * 1.5 / PT
        self.need(step * (len(rows) + 1) + (self.size + 3) * 2.5 / PT)  # the table on one page, with its heading
        self.block("h", caption)
        table = pdf.elem("Table")
        right = self.left + self.width
        for i, row in enumerate([head, *rows]):
            self.need(step)
            tr = pdf.elem("TR", table)
            y = self.y + 0.75 * step
            for j, cell in enumerate(row):
                header = i == 0 or j == 0
                scope = "Column" if i == 0 else "Row"
                e = pdf.elem("TH" if header else "TD", tr, attrs=f"<</O /Table /Scope /{scope}>>" if header else None)
                style = "B" if i == 0 or (j == 0 and i == len(rows)) else ""
                x = self.left if j == 0 else right - face(style).width(cell) * self.size / 1000 / PT
                with pdf.marked(e):
                    pdf.text(x, y, cell, style, self.size)
            if i in (0, len(rows) - 1):
                with pdf.artifact():
                    pdf.colour(stroke=(120, 120, 120), width=0.2)
                    pdf.line(self.left, self.y + step, right, self.y + step)
            self.y += step
        self.y += step * 0.5

    def chart(self, year: dict) -> None:
        pdf, months = self.pdf, year["months"]
        self.block("h", "Your plan year so far")
        self.block("p", f"Your plan gives {pounds(year['annual_budget'])} a year. By the end of this month "
                        f"{pounds(year['used_to_date'])} was used. The bars show what was used so far. "
                        "The line shows what the plan set out by then.")
        height = 60 if self.large else 45
        self.need(height + 15)
        top, left = self.y + 2, self.left + 2
        base = top + height
        budget = Decimal(year["annual_budget"]) or Decimal(1)
        top_value = max([budget] + [Decimal(m["used"]) for m in months])
        slot = self.width / 12

        def y_of(amount: Decimal) -> float:
            # A position on the page, not money: the exact share of the chart's top, drawn in mm.
            return base - float(amount / top_value) * height

        figure = pdf.elem("Figure", alt=chart_words(year))
        with pdf.marked(figure), pdf.saved():
            pdf.colour(stroke=(0, 0, 0), fill=(120, 160, 200), width=0.2)
            pdf.line(left, top, left, base)
            pdf.line(left, base, left + self.width - 2, base)
            label = 8 if not self.large else 11
            for i, m in enumerate(months):
                x = left + i * slot + slot * 0.2
                y = y_of(Decimal(m["used"]))
                if base - y > 0.1:
                    pdf.colour(fill=(120, 160, 200))
                    pdf.rect(x, y, slot * 0.6, base - y)
                pdf.colour(fill=(0, 0, 0))
                pdf.text(x, base + 4, f"{date.fromisoformat(m['month'] + '-01'):%b}", "", label)
            pdf.colour(stroke=(200, 60, 40), width=0.6)
            prev = (left, base)
            for i in range(12):
                pt = (left + (i + 1) * slot, y_of(budget * (i + 1) / 12))
                pdf.line(*prev, *pt)
                prev = pt
        self.y = base + 8


def chart_words(year: dict) -> str:
    """The chart's figures said in words: its alternative text for a screen reader."""
    used = "; ".join(f"{month_name(m['month'])}: {pounds(m['used'])} used" for m in year["months"])
    return (f"A bar chart of your plan year. Your plan gives {pounds(year['annual_budget'])} a year, "
            f"{pounds(str(Decimal(year['annual_budget']) / 12))} a month. {used}. "
            f"{pounds(year['used_to_date'])} was used by the end of this month.")


def render_pdf(s: dict, large_print: bool = False) -> bytes:
    """The statement's PDF. Given the same statement, the same bytes (dated by its issue)."""
    provider = document_provider(s)
    doc = _Letter(large_print, f"Money statement for {month_name(s['month'])}: {s['name']}",
                  f"Statement number {s['number']}", datetime.fromisoformat(s["issued_at"]), provider["name"])
    blocks = letter({**s, "provider": provider})
    at_end = next(i for i, (st, t) in enumerate(blocks) if st == "h" and t == "What happens next")
    doc.blocks(blocks[:at_end])
    doc.table("Your money this month in short", ("What", "Amount"), money_table(s))
    if s.get("plan_year") and not s.get("final"):  # a closed fund's plan year does not go on
        doc.chart(s["plan_year"])
    doc.blocks(blocks[at_end:])
    return doc.pdf.output()
