"""Reading the PDFs the app writes, as a screen reader or a search would."""
from __future__ import annotations

import io

import pikepdf
from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def elements(node):
    """The structure elements below a node, depth first (reading order)."""
    kids = node.get("/K")
    kids = kids if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else []
    for k in kids:
        if isinstance(k, pikepdf.Dictionary) and k.get("/Type") == "/StructElem":
            yield k
            yield from elements(k)
