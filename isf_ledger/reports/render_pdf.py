"""The statement as a letter a person can read: plain English, short sentences, every figure in a
sentence that says what it means, real text (selectable, read aloud by screen readers), its
language and title set, and a chart of the plan year drawn with lines and boxes.

Written for the person, never at them: a surplus is good news with a plan, an overdrawn fund is
the provider's to make good, money the council has not paid is not the person's worry.

Core fonts (Helvetica, latin-1 covers £) and our own word wrap: fpdf2's multi_cell costs ~60 ms
a page in line breaking, which 10,000 statements a month cannot afford.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from fpdf import FPDF

PROVIDER = "Your support provider"
_WORD_WIDTHS: dict[str, dict[str, int]] = {}  # font -> word -> width in the font's units


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


def letter(s: dict) -> list[tuple[str, str]]:
    """The statement as (style, text) blocks: 'title', 'h' (a heading), 'p' (a sentence or two)."""
    mon = month_name(s["month"])
    short = f"{date.fromisoformat(s['month'] + '-01'):%B}"
    out = [("title", f"Your money for {mon}"),
           ("p", f"This is for {s['name']}. It is statement number {s['number']}, made on {day(s['issued_at'])}.")]
    if s.get("replaces"):
        out.append(("p", f"It takes the place of statement number {s['replaces']}. "
                         f"We changed it because: {s.get('reason') or 'we found a mistake'}. "
                         "The money in it is the same."))
    out += [("p", "Your fund is money kept just for you and your support. We keep it apart from other money."),
            ("h", "At the start"),
            ("p", f"You had {pounds(s['opening_balance'])} on the first day of {short}."
             if Decimal(s["opening_balance"]) >= 0 else
             f"On the first day of {short} your fund was {pounds(s['opening_balance'])} below zero. "
             "We, your provider, cover this."),
            ("h", "What came in"),
            ("p", f"{pounds(s['receipts_total'])} came in during {short}. This is money paid in for your support.")]
    out.append(("h", "What it paid for"))
    out.append(("p", f"Your support: {pounds(s['support_charged_total'])}. This is the help our staff gave you."))
    out.append(("p", f"Shared support: {pounds(s['shared_support_total'])}. This is your part of help you share "
                     "with others, like a sleep-in."))
    out.append(("p", f"Things bought for you: {pounds(s['spend_total'])}. We paid this to others for you."))
    out.append(("p", f"Our fee: {pounds(s['management_fee_total'])}. This pays us to look after your fund. "
                     "It is a small part of each payment in."))
    if Decimal(s["clawback_total"]):
        out.append(("p", f"Paid back to the council: {pounds(s['clawback_total'])}. This was agreed with you first."))
    h = s["hours"]
    out += [("h", "Your hours"),
            ("p", f"Your plan gave you {hours(h['planned'])} of help this month. "
                  f"You used {hours(h['delivered'])}."),
            ("p", f"You said no to {hours(h['refused'])} on the day. "
                  f"Help not used and not planned ahead: {hours(h['unplanned'])}. We still pay staff "
                  "for these hours, so they are part of the cost.")]
    out.append(("p", f"You saved {hours(h['banked'])} to use later. You used {hours(h['bank_used'])} of your saved "
                     f"hours. You have {hours(h['bank_balance'])} saved now."))
    if Decimal(h["provider_cancelled"]):
        out.append(("p", f"We could not give you {hours(h['provider_cancelled'])} of help. You do not pay for this. "
                         "We are sorry."))
    c = s["contingency"]
    out += [("h", "Money kept for extra needs"),
            ("p", f"Some money is kept to one side in case you need more help. This month {pounds(c['set_aside'])} "
                  f"was put there and {pounds(c['drawn'])} was used. {pounds(c['remaining'])} is kept there now.")]
    out.append(("h", "What is left"))
    if s["overdrawn"]:
        out.append(("p", f"At the end of {short} your fund was {pounds(s['closing_balance'])} below zero. "
                         "This is because you had support before the money for it came in. You do not need to do "
                         f"anything. We, your provider, will make good the {pounds(s['provider_makes_good'])} from "
                         "our own money. We will never take it from anyone else's fund."))
    else:
        out.append(("p", f"You have {pounds(s['closing_balance'])} at the end of {short}."))
    fin = s.get("final")
    if fin:  # the last statement of a fund closed when the person left
        to = "the council" if fin["destination"] == "council" else "the new holder of your fund"
        out.append(("p", f"Your fund closed on {day(fin['closed_on'])}. This is your last statement. "
                         f"The {pounds(fin['paid_out'])} left, with the money kept for extra needs, went to {to} "
                         f"(reference {fin['reference']}), so it keeps paying for your support."))
    out.append(("h", "What happens next"))
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
    if Decimal(sur["above_threshold"]):
        out.append(("p", f"You have {pounds(sur['above_threshold'])} more than the {sur['threshold_weeks']} weeks of "
                         "money your fund keeps for a rainy day. That is fine. The council may ask for some of it "
                         f"back. If they do, we will tell you at least {sur['notice_days']} days before. "
                         "Talk to us if you would like to plan how to use it."))
    fc = s.get("forecast")
    if fc:
        bal = Decimal(fc["balance"])
        where = (f"you will have about {pounds(fc['balance'])} left" if bal >= 0 else
                 f"your fund will be about {pounds(fc['balance'])} short")
        out.append(("p", f"If you keep using money as you did in the last three months, {where} when your plan "
                         f"year ends on {day(fc['plan_year_end'])}."
                         + (" We will talk with you about it. You have done nothing wrong." if bal < 0 else "")))
    for item in s.get("late_items") or []:
        out.append(("p", f"Late item: {item['what']} of {pounds(item['amount'])} for {day(item['service_date'])} "
                         f"came to us after this month was closed. It is counted in {month_name(item['counted_in'])}."))
    out += [("h", "Questions"),
            ("p", "Please ask us if any of this is not clear. We can go through it with you, or with someone "
                  "you trust.")]
    return out


def text_of(s: dict) -> str:
    """The statement's words, as the person reads them (the reading-grade test measures this)."""
    return "\n".join(t for _, t in letter(s))


class _Letter:
    def __init__(self, large: bool):
        self.large = large
        self.size = 18 if large else 12
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(True, margin=18)
        self.pdf.set_margins(20, 18, 20)
        self.width = self.pdf.w - 40

    def lines(self, text: str) -> list[str]:
        """Words wrapped to the page, measured from the core font's own width table (fpdf2's
        get_string_width copies its state for every call); a word's width is kept once measured
        (the same few hundred words fill every statement)."""
        font = self.pdf.current_font
        widths = _WORD_WIDTHS.setdefault(font.fontkey, {})
        if len(widths) > 20_000:  # names and amounts differ by statement: keep the cache small
            widths.clear()
        cw, scale = font.cw, self.pdf.font_size_pt / 1000 / self.pdf.k
        space = cw[" "] * scale
        out, line, width = [], [], 0.0
        for word in text.split():
            units = widths.get(word)
            if units is None:
                units = widths[word] = sum(cw.get(c, 600) for c in word)
            w = units * scale
            if line and width + space + w > self.width:
                out.append(" ".join(line))
                line, width = [word], w
            else:
                width += (space if line else 0) + w
                line.append(word)
        return out + ([" ".join(line)] if line else [])

    def block(self, style: str, text: str) -> None:
        """Each wrapped line placed where fpdf2's cell(w, step, line) puts it (a page break
        first when it would not fit), written with text(): cell() lays each line out as styled
        fragments, ~0.4 ms a line, most of a statement's rendering."""
        pdf = self.pdf
        size = {"title": self.size + 8, "h": self.size + 3}.get(style, self.size)
        pdf.set_font("Helvetica", "B" if style in ("title", "h") else "", size)
        step = size * 0.5
        if style == "h":
            pdf.ln(step * 0.6)
        left = pdf.l_margin + pdf.c_margin
        for line in self.lines(text):
            if pdf.will_page_break(step):
                pdf.add_page()
            pdf.text(left, pdf.y + 0.5 * step + 0.3 * pdf.font_size, line)
            pdf.set_y(pdf.y + step)
        pdf.ln(step * 0.35)

    def chart(self, year: dict) -> None:
        pdf, months = self.pdf, year["months"]
        self.block("h", "Your plan year so far")
        self.block("p", f"Your plan gives {pounds(year['annual_budget'])} a year. By the end of this month "
                        f"{pounds(year['used_to_date'])} was used. The bars show what was used so far. "
                        "The line shows what the plan set out by then.")
        height = 60 if self.large else 45
        if pdf.get_y() + height + 15 > pdf.h - 18:
            pdf.add_page()
        top, left = pdf.get_y() + 2, pdf.l_margin + 2
        base = top + height
        budget = Decimal(year["annual_budget"]) or Decimal(1)
        top_value = max([budget] + [Decimal(m["used"]) for m in months])
        slot = self.width / 12

        def y_of(amount: Decimal) -> float:
            # A position on the page, not money: the exact share of the chart's top, drawn in mm.
            return base - float(amount / top_value) * height

        pdf.set_draw_color(0, 0, 0)
        pdf.line(left, top, left, base)
        pdf.line(left, base, left + self.width - 2, base)
        pdf.set_fill_color(120, 160, 200)
        pdf.set_font("Helvetica", "", 8 if not self.large else 11)
        for i, m in enumerate(months):
            x = left + i * slot + slot * 0.2
            y = y_of(Decimal(m["used"]))
            if base - y > 0.1:
                pdf.rect(x, y, slot * 0.6, base - y, style="F")
            pdf.text(x, base + 4, f"{date.fromisoformat(m['month'] + '-01'):%b}")
        pdf.set_draw_color(200, 60, 40)
        pdf.set_line_width(0.6)
        points = [(left + (i + 1) * slot, y_of(budget * (i + 1) / 12)) for i in range(12)]
        prev = (left, base)
        for pt in points:
            pdf.line(*prev, *pt)
            prev = pt
        pdf.set_line_width(0.2)
        pdf.set_y(base + 8)


def render_pdf(s: dict, large_print: bool = False) -> bytes:
    """The statement's PDF. Given the same statement, the same bytes (dated by its issue)."""
    doc = _Letter(large_print)
    pdf = doc.pdf
    title = f"Money statement for {month_name(s['month'])}: {s['name']}"
    pdf.set_title(title)
    pdf.set_lang("en-GB")
    pdf.set_author(PROVIDER)
    pdf.set_subject(f"Statement number {s['number']}")
    pdf.set_creation_date(datetime.fromisoformat(s["issued_at"]))
    pdf.add_page()
    blocks = letter(s)
    at_end = next(i for i, (st, t) in enumerate(blocks) if st == "h" and t == "What happens next")
    for style, text in blocks[:at_end]:
        doc.block(style, text)
    if s.get("plan_year"):
        doc.chart(s["plan_year"])
    for style, text in blocks[at_end:]:
        doc.block(style, text)
    return bytes(pdf.output())
