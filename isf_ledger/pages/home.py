"""Where each kind of user lands: the home page (`/`) and a fund's page (`/people/<id>`) show a
different page to each role, and the navigation lists the pages the signed-in user may use.

This module stands above the pages it chooses between (people.py, review.py, finance.py,
broker.py), so none of them imports it back: the pages' modules import one way (pyproject.toml's
contract "No import loops").
"""
from __future__ import annotations

from flask import g, render_template, request, url_for

from ..auth.scopes import PERSON
from .broker import links_for_broker
from .finance import fund_page, links_for_role
from .frame import visible
from .people import links_for, money_page
from .review import review_page, reviewer_home
from .views import bp, signed_in

FUND_ROLES = ("admin", "finance", "broker")  # who sees a fund's page as the books, not as "your money"


@bp.get("/")
@signed_in
def home():
    """A person's home is their money (people.py); a council reviewer's their council's people
    (review.py); everyone else's lists the pages they may use."""
    user = g.user
    if user.role == "person" and user.person_id is not None:
        return money_page(user.person_id, home=True)
    if user.role == "auditor":
        return reviewer_home()
    return render_template("pages/home.html", user=user, links=nav_links())


@bp.get("/people/<int:person_id>")
@signed_in
@visible(PERSON)
def person(person_id: int):
    """A fund's page: finance's and brokers' (finance.py); for a council's auditor, the person's
    review (review.py); else the person's money now (people.py)."""
    if g.user.role == "auditor":
        return review_page(person_id)
    if g.user.role in FUND_ROLES:
        return fund_page(person_id)
    return money_page(person_id)


def nav_links() -> list[dict]:
    """The pages the signed-in user may use, for the navigation and their home: every page a role
    may use is reachable from `/`. The current page is marked."""
    user = g.get("user")
    if user is None:
        return []
    links = [{"href": url_for("pages.home"), "text": "Your money" if user.role == "person" else "Home"}]
    if user.role == "person" and user.person_id is not None:
        links += links_for(user.person_id)
    elif user.role == "auditor":
        links[0]["text"] = "Your council’s people"
    else:
        links += links_for_role(user.role)
        links += links_for_broker()  # brokers' pages: for brokers, finance and admins
    for link in links:
        link["current"] = link["href"] == request.path
    return links
