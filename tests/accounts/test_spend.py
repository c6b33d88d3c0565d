"""Spend on the person's behalf: never beyond available, an invoice paid once, reconciliation after
every spend, and receipt files checked by their content."""
import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from isf_ledger.db import db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def receipt_files_dir(app, tmp_path):
    """Where a version before 0026 kept receipt files: nothing is written there now."""
    app.config["RECEIPT_FILES_DIR"] = str(tmp_path / "receipt-files")
    return tmp_path / "receipt-files"


def stored_contents(app) -> dict[str, bytes]:
    """The receipt files' bytes the database keeps, by SHA-256."""
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT sha256, content FROM receipt_file_contents")).all()
        db.session.rollback()
    return {sha: bytes(content) for sha, content in rows}


def fund(api, name="Ana", council="Northshire", receipt="2000.00"):
    """£2,000 in on 2026-10-01 at the default 10% fee: £1,800.00 available."""
    pid = api.person(name, council=council)
    api.receipt(pid, receipt, "2026-10-01")
    return pid


def spend_body(date, amount, **fields):
    return {"date": date, "amount": amount, "payee": "Castle Cabs", "category": "transport",
            "domain": "work_leisure_learning", "description": "Taxi to drama class", **fields}


def spend(api, pid, amount, date="2026-10-05", **fields):
    return api.post(f"/api/v1/people/{pid}/spend", spend_body(date, amount, **fields))


def post_spend(api, pid, amount, date="2026-10-05", **fields):
    return api.call("POST", f"/api/v1/people/{pid}/spend", spend_body(date, amount, **fields))


def reconciles(api, as_of="2026-12-31"):
    rec = api.get(f"/api/v1/reconciliation?as_of={as_of}")
    assert rec["reconciles"] is True and rec["difference"] == "0.00", rec
    return rec


def test_spend_beyond_available_is_refused(api):
    pid = fund(api)
    r = post_spend(api, pid, "1800.01")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "insufficient_funds"
    assert "1800.01" in r.get_json()["error"]["message"]
    assert api.balance(pid)["available"] == "1800.00"
    assert api.get(f"/api/v1/people/{pid}/spend") == []
    s = spend(api, pid, "1800.00")
    assert s["transaction_id"] and s["kind"] == "flexible" and s["amount"] == "1800.00"
    assert api.balance(pid)["available"] == "0.00"
    assert post_spend(api, pid, "0.01", "2026-10-06").status_code == 409
    # The contingency is ring-fenced: spend never reaches it.
    pid2 = fund(api, "Ben")
    api.plan(pid2, contingency_amount="1500.00")
    api.post(f"/api/v1/people/{pid2}/contingency/set-aside", {"date": "2026-10-02", "amount": "1500.00"})
    assert post_spend(api, pid2, "300.01").status_code == 409
    spend(api, pid2, "300.00")


def test_reconciliation_holds_after_every_spend(api):
    pid, other = fund(api), fund(api, "Ben")
    held = 1800_00 + 1800_00
    for n, (who, amount) in enumerate([(pid, "12.50"), (other, "999.99"), (pid, "0.01"), (pid, "600.00"),
                                       (other, "800.01")]):
        s = spend(api, who, amount, f"2026-10-{5 + n:02d}", invoice_reference=f"INV-{n}")
        held -= int(amount.replace(".", ""))
        rec = reconciles(api)
        assert rec["funds_total"] == rec["client_money_held"] == f"{held // 100}.{held % 100:02d}"
        assert api.get(f"/api/v1/transactions/{s['transaction_id']}")["postings"] == [
            {"account": f"person:{who}:available", "amount": f"-{amount}"},
            {"account": "provider:client_money", "amount": amount}]
    reconciles(api, "2026-10-06")
    r = api.post(f"/api/v1/transactions/{s['transaction_id']}/reverse", {"reason": "paid from the wrong fund"})
    assert r["transaction_id"]
    rec = reconciles(api)
    assert rec["funds_total"] == "1987.50" and api.balance(other)["available"] == "800.01"
    assert api.get(f"/api/v1/people/{other}/spend")[-1]["reversed_by_transaction_id"] == r["transaction_id"]
    assert api.app.test_cli_runner().invoke(args=["audit"]).exit_code == 0


def test_one_payees_invoice_is_paid_once(api):
    pid, other = fund(api), fund(api, "Ben")
    first = spend(api, pid, "250.00", payee="Bright Futures Day Centre", category="subcontracted_support",
                  invoice_reference="BF-1001", description="Day centre sessions, October")
    assert first["kind"] == "invoice" and first["invoice_reference"] == "BF-1001"
    for payee, ref, who in [("Bright Futures Day Centre", "BF-1001", pid),
                            ("  bright futures  DAY centre ", "bf-1001 ", pid),
                            ("BRIGHT FUTURES DAY CENTRE", " BF-1001", other)]:
        r = post_spend(api, who, "250.00", payee=payee, invoice_reference=ref)
        assert r.status_code == 409, (payee, ref)
        err = r.get_json()["error"]
        assert err["code"] == "invoice_already_paid" and err["details"]["spend_id"] == first["id"]
    # Another payee's invoice with the same number, and flexible spend without one, are fine.
    spend(api, pid, "20.00", payee="Brayford Leisure Centre", invoice_reference="BF-1001")
    spend(api, pid, "5.00")
    spend(api, pid, "5.00")
    assert api.balance(pid)["available"] == str(1800 - 250 - 20 - 10) + ".00"
    # A reversed payment was a mistake: the invoice may then be paid again, once.
    api.post(f"/api/v1/transactions/{first['transaction_id']}/reverse", {"reason": "wrong amount"})
    again = spend(api, pid, "205.00", payee="Bright Futures Day Centre", invoice_reference="BF-1001")
    assert post_spend(api, other, "205.00", payee="Bright Futures Day Centre",
                      invoice_reference="BF-1001").status_code == 409
    assert again["reversed_by_transaction_id"] is None
    reconciles(api)


def test_the_database_refuses_a_second_payment_of_an_invoice(api):
    """Behind the named lock, the unique constraint: the same normalised pair and payment number."""
    pid = fund(api)
    s = spend(api, pid, "10.00", payee="Bright Futures", invoice_reference="BF-1")
    with api.app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(sa.text(
                "INSERT INTO spend (person_id, date, amount_pence, payee, payee_key, category, domain, description, "
                "invoice_reference, invoice_key, payment_number, transaction_id, created_at) "
                "SELECT person_id, date, amount_pence, payee, payee_key, category, domain, description, "
                "invoice_reference, invoice_key, payment_number, transaction_id + 1000, created_at FROM spend "
                "WHERE id = :id"), {"id": s["id"]})
        db.session.rollback()


def test_spend_is_listed_with_filters(api):
    pid = fund(api)
    spend(api, pid, "12.00", "2026-10-03", category="Transport")
    spend(api, pid, "30.00", "2026-10-10", payee="Kelsall Leisure", category="Leisure", domain="health",
          description="Gym membership for a supporter")
    spend(api, pid, "79.99", "2026-11-02", payee="Argos", category="assistive technology", domain="communication",
          description="Tablet stand")
    every = api.get(f"/api/v1/people/{pid}/spend")
    assert [(s["date"], s["amount"], s["category"], s["domain"]) for s in every] == [
        ("2026-10-03", "12.00", "transport", "work_leisure_learning"),
        ("2026-10-10", "30.00", "leisure", "health"),
        ("2026-11-02", "79.99", "assistive_technology", "communication")]
    assert len(api.get(f"/api/v1/people/{pid}/spend?from=2026-10-04&to=2026-11-02")) == 2
    assert [s["amount"] for s in api.get(f"/api/v1/people/{pid}/spend?domain=health")] == ["30.00"]
    assert [s["amount"] for s in api.get(f"/api/v1/people/{pid}/spend?category=Assistive%20Technology")] == ["79.99"]
    assert api.get(f"/api/v1/spend/{every[0]['id']}")["payee"] == "Castle Cabs"
    api.get(f"/api/v1/people/{pid}/spend?domain=gardening", expect=422)
    api.get(f"/api/v1/people/{pid}/spend?from=2026-11-01&to=2026-10-01", expect=422)


@pytest.mark.parametrize("change, field", [
    ({"domain": "gardening"}, "domain"), ({"payee": "  "}, "payee"), ({"amount": "0.00"}, "amount"),
    ({"amount": "-5.00"}, "amount"), ({"description": None}, "description"), ({"category": ""}, "category"),
    ({"date": "2026-13-01"}, "date"),
])
def test_a_spend_names_what_is_wrong(api, change, field):
    pid = fund(api)
    r = api.call("POST", f"/api/v1/people/{pid}/spend", {**spend_body("2026-10-05", "10.00"), **change})
    assert r.status_code == 422 and field in r.get_json()["error"]["details"], r.get_json()
    assert api.get(f"/api/v1/people/{pid}/spend") == []


def test_roles(api):
    pid, other = fund(api), fund(api, "Ben", council="Southvale")
    broker = api.user("broker")
    own, stranger = api.user("person", "--person", str(pid)), api.user("person", "--person", str(other))
    auditor, outsider = api.user("auditor", "--council", "Northshire"), api.user("auditor", "--council", "Southvale")
    body = {"date": "2026-10-05", "amount": "10.00", "payee": "Castle Cabs", "category": "transport",
            "domain": "work_leisure_learning", "description": "Taxi"}
    api.post(f"/api/v1/people/{pid}/spend", body, token=broker)
    for token in (own, stranger, auditor, outsider):
        api.post(f"/api/v1/people/{pid}/spend", body, token=token, expect=403)
    for token in (own, auditor, broker, api.token):
        assert len(api.get(f"/api/v1/people/{pid}/spend", token=token)) == 1
    for token in (stranger, outsider):
        api.get(f"/api/v1/people/{pid}/spend", token=token, expect=403)
    api.post("/api/v1/people/999999/spend", body, expect=404)


# --- receipt files --------------------------------------------------------------------------------

def download(api, spend_id, token=None):
    """GET the receipt file; the response is closed, as a server closes the file it streamed."""
    r = api.call("GET", f"/api/v1/spend/{spend_id}/receipt-file", token=token)
    r.get_data()
    r.close()
    return r


def upload(api, spend_id, content, name, *, token=None, content_type="application/pdf", key=None):
    """POST a multipart body built here (the test client would spill a large one to a temporary
    file that it leaves open when the app refuses it unread)."""
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode() + b"\"\r\n"
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + content + b"\r\n--XyZ--\r\n")
    return api.client.post(f"/api/v1/spend/{spend_id}/receipt-file", data=body,
                           headers={"Authorization": f"Bearer {token or api.token}",
                                    **({"Idempotency-Key": key} if key else {})},
                           content_type="multipart/form-data; boundary=XyZ")


def test_a_receipt_file_is_stored_by_its_hash_and_downloaded_by_those_who_may_see_the_fund(api, receipt_files_dir):
    pid, other = fund(api), fund(api, "Ben", council="Southvale")
    s = spend(api, pid, "12.50")
    broker = api.user("broker")
    r = upload(api, s["id"], PNG, "till receipt.png", token=broker, content_type="application/pdf")
    assert r.status_code == 201, r.get_json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert r.get_json() == {"sha256": digest, "size": len(PNG), "media_type": "image/png",
                            "name": "till receipt.png", "url": f"/api/v1/spend/{s['id']}/receipt-file"}
    assert stored_contents(api.app) == {digest: PNG}  # in the database, which every app server reads
    assert not receipt_files_dir.exists()  # never on this server's disk
    listed = api.get(f"/api/v1/people/{pid}/spend")[0]["receipt_file"]
    assert listed["sha256"] == digest and listed["media_type"] == "image/png"
    own = api.user("person", "--person", str(pid))
    auditor = api.user("auditor", "--council", "Northshire")
    for token in (own, auditor, broker, api.token):
        got = download(api, s["id"], token)
        assert got.status_code == 200 and got.data == PNG
        assert got.headers["Content-Type"] == "image/png"
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert "till receipt.png" in got.headers["Content-Disposition"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    stranger = api.user("person", "--person", str(other))
    outsider = api.user("auditor", "--council", "Southvale")
    for token in (stranger, outsider):
        assert download(api, s["id"], token).status_code == 403
        assert api.call("GET", f"/api/v1/spend/{s['id']}", token=token).status_code == 403
        assert upload(api, s["id"], PNG, "r.png", token=token).status_code == 403
    assert upload(api, s["id"], PNG, "r.png", token=own).status_code == 403
    # The same file again is the same answer; another file is refused, the first one stays.
    assert upload(api, s["id"], PNG, "copy.png").status_code == 201
    again = upload(api, s["id"], PDF, "invoice.pdf")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "receipt_file_exists"
    assert download(api, s["id"]).data == PNG
    # No file yet, or no such spend.
    s2 = spend(api, pid, "1.00")
    assert download(api, s2["id"]).status_code == 404
    assert download(api, 999999).status_code == 404


def test_a_pdf_is_served_as_a_pdf_whatever_its_name(api):
    pid = fund(api)
    s = spend(api, pid, "250.00", payee="Bright Futures", invoice_reference="BF-9")
    r = upload(api, s["id"], PDF, "scan.jpg", content_type="image/jpeg")
    assert r.status_code == 201 and r.get_json()["media_type"] == "application/pdf"
    got = download(api, s["id"])
    assert got.headers["Content-Type"] == "application/pdf" and "scan.pdf" in got.headers["Content-Disposition"]


@pytest.mark.parametrize("content, name", [
    (b"Total: 12.50\nThank you for shopping\n", "receipt.pdf"),  # a text file that says it is a PDF
    (b"<html><script>alert(1)</script></html>", "receipt.png"),
    (b"PK\x03\x04" + bytes(100), "receipt.jpg"),  # a zip
    (b"MZ\x90\x00" + bytes(100), "receipt.gif"),  # a program
    (b"", "receipt.pdf"),
])
def test_a_file_that_is_not_what_its_name_says_is_refused(api, receipt_files_dir, content, name):
    pid = fund(api)
    s = spend(api, pid, "12.50")
    r = upload(api, s["id"], content, name)
    assert r.status_code == 422 and "file" in r.get_json()["error"]["details"], r.get_json()
    assert api.get(f"/api/v1/people/{pid}/spend")[0]["receipt_file"] is None
    assert stored_contents(api.app) == {} and not receipt_files_dir.exists()


@pytest.mark.parametrize("size", [10 * 1024 * 1024 + 1, 17 * 1024 * 1024])
def test_a_file_larger_than_10_mb_is_refused(api, size):
    pid = fund(api)
    s = spend(api, pid, "12.50")
    big = b"%PDF-1.7\n" + bytes(size - 9)
    r = upload(api, s["id"], big, "big.pdf", key="big-1")  # the key's hash reads the whole body first
    assert r.status_code == 422 and "file" in r.get_json()["error"]["details"], r.get_json()
    assert "10 MB" in r.get_json()["error"]["message"]
    ok = upload(api, s["id"], b"%PDF-1.7\n" + bytes(10 * 1024 * 1024 - 9), "just.pdf")
    assert ok.status_code == 201


def test_an_upload_without_a_file_names_file(api):
    pid = fund(api)
    s = spend(api, pid, "12.50")
    r = api.client.post(f"/api/v1/spend/{s['id']}/receipt-file", data={"other": "x"},
                        headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["details"]


@pytest.mark.parametrize("sql", ["UPDATE spend SET amount_pence = 1", "DELETE FROM spend",
                                 "UPDATE spend_receipt_files SET media_type = 'text/html'",
                                 "DELETE FROM spend_receipt_files",
                                 "UPDATE receipt_file_contents SET sha256 = 'x'",
                                 "DELETE FROM receipt_file_contents"])
def test_raw_sql_cannot_change_spend_or_its_receipt_file(api, sql):
    pid = fund(api)
    s = spend(api, pid, "12.50")
    assert upload(api, s["id"], PNG, "r.png").status_code == 201
    with api.app.app_context():
        with pytest.raises(IntegrityError, match="immutable"):
            db.session.execute(sa.text(sql))
        db.session.rollback()
    got = api.get(f"/api/v1/people/{pid}/spend")[0]
    assert got["amount"] == "12.50" and got["receipt_file"]["media_type"] == "image/png"
    assert download(api, s["id"]).data == PNG


@pytest.mark.parametrize("name", ["receipt\x00.png", "\x00", "till\x1b[31mreceipt.png"])
def test_a_control_character_in_the_file_name_is_a_422_naming_file(api, receipt_files_dir, name):
    """Issue 21 item 11: a NUL in a receipt file's name was a 500 on PostgreSQL."""
    pid = fund(api)
    s = spend(api, pid, "12.50")
    r = upload(api, s["id"], PNG, name)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"] == {
        "file": ["the file's name must not contain control characters (such as NUL); rename it"]}
    assert api.get(f"/api/v1/people/{pid}/spend")[0]["receipt_file"] is None
    assert stored_contents(api.app) == {} and not receipt_files_dir.exists()


def _database_full(app):
    """Make the database refuse to grow, as a full disk does: SQLite by its page limit (every
    connection the app opens), PostgreSQL by a trigger raising disk_full on the file's insert."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("""CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
                END $$"""))
            db.session.execute(sa.text("CREATE TRIGGER test_disk_full BEFORE INSERT ON receipt_file_contents "
                                       "FOR EACH ROW EXECUTE FUNCTION test_disk_full()"))
            db.session.commit()
            return lambda: _run(app, "DROP TRIGGER test_disk_full ON receipt_file_contents")
        engine = db.engine

        def full(conn, _):
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        sa.event.listen(engine, "connect", full)
        engine.dispose()  # every connection from now on is opened full

        def undo():
            sa.event.remove(engine, "connect", full)
            engine.dispose()
        return undo


def _run(app, sql):
    with app.app_context():
        db.session.execute(sa.text(sql))
        db.session.commit()


def test_a_full_database_is_a_503_and_nothing_is_written(api, receipt_files_dir):
    pid = fund(api)
    s = spend(api, pid, "12.50")
    big = PNG + bytes(2 * 1024 * 1024)  # more than the pages the database has free
    undo = _database_full(api.app)
    try:
        r = upload(api, s["id"], big, "till receipt.png", key="full-1")
    finally:
        undo()
    assert r.status_code == 503, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "receipt_files_unavailable", error
    assert "database cannot take it" in error["message"] and "Nothing was saved" in error["message"]
    assert api.get(f"/api/v1/people/{pid}/spend")[0]["receipt_file"] is None
    assert stored_contents(api.app) == {} and not receipt_files_dir.exists()
    # Once the database has room, the same upload (the same key) goes through.
    again = upload(api, s["id"], big, "till receipt.png", key="full-1")
    assert again.status_code == 201 and again.get_json()["name"] == "till receipt.png"
    assert download(api, s["id"]).data == big


def test_files_an_older_version_kept_in_a_folder_are_carried_into_the_database(api, receipt_files_dir):
    """A receipt file row from before 0026 whose bytes lie in the folder: 404 until `isf-ledger
    receipt-files load` carries them over (the migration does the same at upgrade); a second load
    finds nothing new, and a row whose file is nowhere is named."""
    from isf_ledger.models import ReceiptFile

    pid = fund(api)
    s1, s2 = spend(api, pid, "12.50"), spend(api, pid, "3.00", invoice_reference="B-2")
    digest = hashlib.sha256(PDF).hexdigest()
    with api.app.app_context():
        db.session.add(ReceiptFile(spend_id=s1["id"], sha256=digest, size_bytes=len(PDF),
                                   media_type="application/pdf", original_name="invoice.pdf"))
        db.session.add(ReceiptFile(spend_id=s2["id"], sha256="0" * 64, size_bytes=1,
                                   media_type="application/pdf", original_name="lost.pdf"))
        db.session.commit()
    missing = download(api, s1["id"])
    assert missing.status_code == 404 and "receipt-files load" in missing.get_json()["error"]["message"]
    (receipt_files_dir / digest[:2]).mkdir(parents=True)
    (receipt_files_dir / digest[:2] / digest).write_bytes(PDF)
    runner = api.app.test_cli_runner()
    out = runner.invoke(args=["receipt-files", "load"])
    assert out.exit_code == 1 and "1 loaded, 0 already in the database" in out.output, out.output
    assert f"missing: {'0' * 64}" in out.output
    got = download(api, s1["id"])
    assert got.status_code == 200 and got.data == PDF and got.headers["Content-Type"] == "application/pdf"
    again = runner.invoke(args=["receipt-files", "load", str(receipt_files_dir)])
    assert "0 loaded, 1 already in the database" in again.output, again.output
    assert stored_contents(api.app) == {digest: PDF}


def test_the_migration_carries_the_folder_s_files_into_the_database(api, receipt_files_dir):
    pid = fund(api)
    s = spend(api, pid, "12.50")
    assert upload(api, s["id"], PDF, "invoice.pdf").status_code == 201
    digest = hashlib.sha256(PDF).hexdigest()
    runner = api.app.test_cli_runner()
    down = runner.invoke(args=["db", "downgrade", "0025_ops"])  # as before 0026: the bytes in a folder
    assert down.exit_code == 0, down.output
    (receipt_files_dir / digest[:2]).mkdir(parents=True)
    (receipt_files_dir / digest[:2] / digest).write_bytes(PDF)
    up = runner.invoke(args=["db", "upgrade"])
    assert up.exit_code == 0, up.output
    assert stored_contents(api.app) == {digest: PDF}
    assert download(api, s["id"]).data == PDF
