"""A small writer of tagged PDF letters (PDF/UA-1): the statements, large print, the surplus
letter, final statements and the print batch's address sheets.

Why our own and not fpdf2's page model: fpdf2 (2.8) tags only images and links, in a flat tree,
through private methods, and embedding a TrueType font there costs ~160 ms a document (the font
parsed and subset by fontTools for each one), where month end has ~5 ms. Here:

- The font is DejaVu Sans (shipped in ``fonts/``, with its licence), regular and bold, loaded
  once a process. Text is written as the font's own glyph ids (Identity-H), so a page never
  depends on which subset is embedded; the embedded subset keeps the glyph ids
  (fontTools ``retain_gids``) and holds printable ASCII plus every Unicode block the document
  touches, so nearly every document embeds a subset already made (kept a process's lifetime).
- A character the font lacks (an emoji it does not have, CJK) is drawn as U+FFFD and the
  element carries the real text as ``/ActualText``: no text ever fails a document, and a screen
  reader still reads the name.
- The structure tree is built as the page is drawn: ``elem()`` opens a structure element,
  ``marked()`` brackets drawing as its content (a marked-content sequence with an MCID, reopened
  on the next page when a page break falls inside it). Headings, paragraphs, lists, tables and
  figures (with ``/Alt``) come out in reading order under one ``/Document``.
- The catalog says ``/Lang``, ``/MarkInfo``, ``/ViewerPreferences /DisplayDocTitle``, and the XMP
  packet declares PDF/UA-1 (``pdfuaid:part 1``). The same input gives the same bytes.

Coordinates are millimetres from the top left of an A4 page, as fpdf2's were.
"""
from __future__ import annotations

import hashlib
import io
import zlib
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
PT = 72 / 25.4  # points per millimetre
A4 = (595.28, 841.89)
PLACEHOLDER = 0xFFFD  # drawn for a character the font lacks
# Unicode blocks embedded whole when a document touches them (so one subset serves many names).
BLOCKS = [(0x00A0, 0x017F), (0x0180, 0x024F), (0x0250, 0x02FF), (0x0300, 0x036F), (0x0370, 0x03FF),
          (0x0400, 0x052F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF)]
BASE = frozenset(range(0x20, 0x7F)) | frozenset(map(ord, "£’‘“”–—…•€"))
_SUBSETS: dict[tuple[str, frozenset], bytes] = {}


class Face:
    """One style of the font: its metrics, its character map and its glyphs' widths."""

    def __init__(self, style: str):
        from fontTools.ttLib import TTFont
        self.style, self.path = style, FONT_DIR / FONT_FILES[style]
        self.data = self.path.read_bytes()
        font = TTFont(io.BytesIO(self.data), recalcTimestamp=False, lazy=True)
        head, hhea = font["head"], font["hhea"]
        self.scale = 1000 / head.unitsPerEm
        self.cmap: dict[int, int] = {u: font.getGlyphID(g) for u, g in font.getBestCmap().items()}
        metrics, order = font["hmtx"].metrics, font.getGlyphOrder()
        self.widths = [round(metrics[g][0] * self.scale) for g in order]  # by glyph id, in 1/1000 em
        self.cw = {u: self.widths[gid] for u, gid in self.cmap.items()}  # by character
        self.placeholder = self.cmap.get(PLACEHOLDER, 0)
        self.hex = {chr(u): f"{gid:04X}" for u, gid in self.cmap.items()}  # a character as it is written
        self.hex_placeholder = f"{self.placeholder:04X}"
        self.ascent, self.descent = round(hhea.ascent * self.scale), round(hhea.descent * self.scale)
        self.cap_height = round(font["glyf"]["H"].yMax * self.scale)
        self.bbox = [round(v * self.scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.name = "DejaVuSans-Bold" if style == "B" else "DejaVuSans"

    def width(self, text: str) -> int:
        """The text's advance in 1/1000 of the font size (a missing character as the placeholder)."""
        cw, miss = self.cw, self.widths[self.placeholder]
        return sum(cw.get(ord(c), miss) for c in text)

    def subset(self, used: set[int]) -> bytes:
        """The compressed font program to embed for these characters: ASCII plus each Unicode block
        they touch (and any other character itself), glyph ids kept; made once a process.
        Bold (headings, the same words in every letter) embeds just the characters it draws."""
        chars = set(BASE if self.style == "" else ())  # bold is for headings: only what they use
        for u in used:
            if u in BASE:
                chars.add(u)
            else:
                block = next(((a, b) for a, b in BLOCKS if a <= u <= b), None)
                chars.update(range(block[0], block[1] + 1) if block else (u,))
        chars.add(PLACEHOLDER)
        key = (self.style, frozenset(c for c in chars if c in self.cmap))
        got = _SUBSETS.get(key)
        if got is None:
            from fontTools import subset
            from fontTools.ttLib import TTFont
            opts = subset.Options()
            opts.retain_gids, opts.hinting, opts.notdef_outline, opts.glyph_names = True, False, True, False
            opts.layout_features = []
            opts.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "MATH"]
            sub = subset.Subsetter(opts)
            sub.populate(unicodes=sorted(key[1]))
            font = TTFont(io.BytesIO(self.data), recalcTimestamp=False)
            sub.subset(font)
            glyf, hmtx = font["glyf"], font["hmtx"].metrics
            for name in font.getGlyphOrder():  # the glyphs left empty: no width either (compresses away)
                if name != ".notdef" and glyf[name].numberOfContours == 0:
                    hmtx[name] = (0, 0)
            out = io.BytesIO()
            font.save(out)
            raw = out.getvalue()
            if len(_SUBSETS) > 64:  # a process making many kinds of names: keep the cache small
                _SUBSETS.clear()
            got = _SUBSETS[key] = len(raw).to_bytes(4, "big") + zlib.compress(raw, 9)
        return got


@lru_cache(maxsize=None)
def face(style: str = "") -> Face:
    return Face(style)


@lru_cache(maxsize=512)
def _font_parts(style: str, chars: frozenset[str]) -> tuple[str, str, bytes, bytes]:
    """What a document embeds for the characters it drew in a style: the subset's name, its
    widths (/W), the font program and the ToUnicode map (the same characters, the same parts:
    made once)."""
    f, used = face(style), {}  # glyph id -> the character it stands for
    for c in sorted(chars):
        gid = f.cmap.get(ord(c))
        used.setdefault(f.placeholder if gid is None else gid, chr(PLACEHOLDER) if gid is None else c)
    program = f.subset({ord(c) for c in used.values()})
    tag = "".join(chr(65 + b % 26) for b in hashlib.md5(program).digest()[:6])
    widths = " ".join(f"{g} [{f.widths[g]}]" for g in sorted(used))
    entries = [f"<{g:04X}> <{c.encode('utf-16-be').hex().upper()}>" for g, c in sorted(used.items())]
    chunks = "\n".join(f"{len(entries[i:i + 100])} beginbfchar\n" + "\n".join(entries[i:i + 100]) + "\nendbfchar"
                       for i in range(0, len(entries), 100))
    cmap = ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{chunks}\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend").encode()
    return f"{tag}+{f.name}", widths, program, zlib.compress(cmap, 6)


class Elem:
    """A structure element: its type, its children (elements, or (page, mcid) content items) and
    what a screen reader says for it instead (``alt`` for a figure, ``actual`` for text)."""
    __slots__ = ("tag", "kids", "alt", "actual", "attrs", "parent", "num")

    def __init__(self, tag: str, parent: "Elem | None", alt: str | None = None, attrs: str | None = None):
        self.tag, self.parent, self.kids, self.alt, self.actual, self.attrs = tag, parent, [], alt, None, attrs
        self.num = 0
        if parent is not None:
            parent.kids.append(self)


def _text_string(s: str) -> str:
    """A PDF text string: printable ASCII as a literal, anything else UTF-16BE with its byte order
    mark, as hex."""
    if all(" " <= c <= "~" for c in s):
        return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"
    return "<FEFF" + s.encode("utf-16-be").hex().upper() + ">"


def _date(d: datetime) -> str:
    d = d.astimezone(timezone.utc) if d.tzinfo else d.replace(tzinfo=timezone.utc)
    return f"D:{d:%Y%m%d%H%M%S}+00'00'"


class Doc:
    """Pages of text, lines and boxes, every piece of it tagged."""

    def __init__(self, title: str, *, author: str, subject: str, created: datetime, lang: str = "en-GB"):
        self.title, self.author, self.subject, self.created, self.lang = title, author, subject, created, lang
        self.w, self.h = A4[0] / PT, A4[1] / PT
        self.pages: list[list[str]] = []  # each page's content operators
        self.mcids: list[list[Elem]] = []  # each page's MCID -> element
        self.chars: dict[str, set[str]] = {}  # style -> the characters drawn in it
        self.root = Elem("Document", None)
        self._open: Elem | None = None  # the element whose marked content is open

    # --- pages and marked content ---
    def add_page(self) -> None:
        reopen = self._open
        if reopen is not None:
            self._end()
        self.pages.append([])
        self.mcids.append([])
        if reopen is not None:
            self._begin(reopen)

    @property
    def page(self) -> int:
        return len(self.pages) - 1

    def elem(self, tag: str, parent: Elem | None = None, alt: str | None = None, attrs: str | None = None) -> Elem:
        return Elem(tag, parent or self.root, alt, attrs)

    def _begin(self, e: Elem) -> None:
        mcid = len(self.mcids[self.page])
        self.mcids[self.page].append(e)
        e.kids.append((self.page, mcid))
        self.pages[self.page].append(f"/{e.tag} <</MCID {mcid}>> BDC")
        self._open = e

    def _end(self) -> None:
        self.pages[self.page].append("EMC")
        self._open = None

    @contextmanager
    def marked(self, e: Elem):
        """Drawing inside is the element's content (on every page it runs onto)."""
        if self._open is not None:
            raise RuntimeError("marked content does not nest")
        self._begin(e)
        try:
            yield e
        finally:
            self._end()

    @contextmanager
    def artifact(self):
        """Drawing inside is decoration (a rule under a row), not content: an /Artifact sequence."""
        if self._open is not None:
            raise RuntimeError("an artifact is not drawn inside marked content")
        self.pages[self.page].append("/Artifact BMC q")
        try:
            yield
        finally:
            self.pages[self.page].append("Q EMC")

    @contextmanager
    def saved(self):
        """Colours and line widths set inside are undone after (on the page where it began)."""
        self.pages[self.page].append("q")
        page = self.page
        try:
            yield
        finally:
            self.pages[page].append("Q")

    # --- drawing (inside marked()) ---
    def text(self, x: float, y: float, s: str, style: str = "", size: float = 12, step: float = 0) -> None:
        """Text with its first baseline at (x, y) mm; each further line of ``s`` (split on newlines)
        ``step`` mm lower, in one text object. A character the font lacks is drawn as the
        placeholder (its element should carry the real text: see ``lacks``)."""
        f = face(style)
        self.chars.setdefault(style, set()).update(s)
        out = [f"BT /F{'2' if style == 'B' else '1'} {size:.2f} Tf {x * PT:.2f} {A4[1] - y * PT:.2f} Td"]
        for i, line in enumerate(s.split("\n")):
            try:
                code = "".join(map(f.hex.__getitem__, line))
            except KeyError:
                code = "".join(f.hex.get(c, f.hex_placeholder) for c in line)
            if i:
                out.append(f"0 {-step * PT:.2f} Td")
            out.append(f"<{code}> Tj")
        out.append("ET")
        self.pages[self.page].append(" ".join(out))

    def lacks(self, s: str) -> bool:
        """Whether the font lacks some character of the text."""
        return not face().hex.keys() >= set(s)

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.pages[self.page].append(f"{x1 * PT:.2f} {A4[1] - y1 * PT:.2f} m {x2 * PT:.2f} {A4[1] - y2 * PT:.2f} l S")

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        """A filled box, its top left at (x, y) mm."""
        self.pages[self.page].append(f"{x * PT:.2f} {A4[1] - (y + h) * PT:.2f} {w * PT:.2f} {h * PT:.2f} re f")

    def colour(self, stroke: tuple[int, int, int] | None = None, fill: tuple[int, int, int] | None = None,
               width: float | None = None) -> None:
        ops = self.pages[self.page]
        if stroke is not None:
            ops.append("{:.3f} {:.3f} {:.3f} RG".format(*(c / 255 for c in stroke)))
        if fill is not None:
            ops.append("{:.3f} {:.3f} {:.3f} rg".format(*(c / 255 for c in fill)))
        if width is not None:
            ops.append(f"{width * PT:.2f} w")

    # --- writing the file ---
    def output(self) -> bytes:
        objs: list[bytes | None] = [None]  # object 0 is the free head

        def new() -> int:
            objs.append(None)
            return len(objs) - 1

        def put(num: int, body: str | bytes, stream: bytes | None = None) -> None:
            head = body.encode("latin-1") if isinstance(body, str) else body
            if stream is not None:
                head = head + b"\nstream\n" + stream + b"\nendstream"
            objs[num] = head

        catalog, pages_id, tree_root, parent_tree = new(), new(), new(), new()
        fonts = {style: new() for style in ("", "B") if style in self.chars}
        page_ids = [new() for _ in self.pages]
        # The structure elements, numbered in reading order.
        elems: list[Elem] = []

        def walk(e: Elem) -> None:
            e.num = new()
            elems.append(e)
            for k in e.kids:
                if isinstance(k, Elem):
                    walk(k)
        walk(self.root)
        for e in elems:
            kids = []
            for k in e.kids:
                if isinstance(k, Elem):
                    kids.append(f"{k.num} 0 R")
                else:
                    kids.append(f"<</Type /MCR /Pg {page_ids[k[0]]} 0 R /MCID {k[1]}>>")
            parent = e.parent.num if e.parent is not None else tree_root
            extra = ""
            if e.alt is not None:
                extra += f" /Alt {_text_string(e.alt)}"
            if e.actual:
                extra += f" /ActualText {_text_string(e.actual)}"
            if e.attrs:
                extra += f" /A {e.attrs}"
            first = next((k for k in e.kids if not isinstance(k, Elem)), None)
            pg = f" /Pg {page_ids[first[0]]} 0 R" if first else ""
            put(e.num, f"<</Type /StructElem /S /{e.tag} /P {parent} 0 R{pg}{extra} /K [{' '.join(kids)}]>>")
        nums = " ".join(f"{i} [{' '.join(f'{e.num} 0 R' for e in marks)}]" for i, marks in enumerate(self.mcids))
        put(parent_tree, f"<</Nums [{nums}]>>")
        put(tree_root, f"<</Type /StructTreeRoot /K [{self.root.num} 0 R] /ParentTree {parent_tree} 0 R "
                       f"/ParentTreeNextKey {len(self.pages)}>>")
        font_res = " ".join(f"/F{'2' if s == 'B' else '1'} {n} 0 R" for s, n in fonts.items())
        for i, (ops, pid) in enumerate(zip(self.pages, page_ids)):
            content = new()
            data = zlib.compress("\n".join(ops).encode("latin-1"), 6)
            put(content, f"<</Length {len(data)} /Filter /FlateDecode>>", data)
            put(pid, f"<</Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {A4[0]} {A4[1]}] "
                     f"/Resources <</Font <<{font_res}>>>> /Contents {content} 0 R /StructParents {i} /Tabs /S>>")
        put(pages_id, f"<</Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(page_ids)}>>")
        for style, num in fonts.items():
            self._font_objects(style, num, new, put)
        meta = new()
        xmp = self._xmp().encode("utf-8")
        put(meta, f"<</Type /Metadata /Subtype /XML /Length {len(xmp)}>>".encode(), xmp)
        info = new()
        put(info, f"<</Title {_text_string(self.title)} /Author {_text_string(self.author)} "
                  f"/Subject {_text_string(self.subject)} /Producer (isf-ledger) "
                  f"/CreationDate ({_date(self.created)}) /ModDate ({_date(self.created)})>>")
        put(catalog, f"<</Type /Catalog /Pages {pages_id} 0 R /Lang {_text_string(self.lang)} "
                     f"/StructTreeRoot {tree_root} 0 R /MarkInfo <</Marked true>> /Metadata {meta} 0 R "
                     "/ViewerPreferences <</DisplayDocTitle true>>>>")
        out = io.BytesIO()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = [0]
        for num in range(1, len(objs)):
            offsets.append(out.tell())
            out.write(f"{num} 0 obj\n".encode() + objs[num] + b"\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(objs)}\n0000000000 65535 f \n".encode())
        out.write("".join(f"{o:010d} 00000 n \n" for o in offsets[1:]).encode())
        ident = hashlib.md5((self.title + _date(self.created)).encode()).hexdigest()
        out.write(f"trailer\n<</Size {len(objs)} /Root {catalog} 0 R /Info {info} 0 R /ID [<{ident}> <{ident}>]>>\n"
                  f"startxref\n{xref}\n%%EOF\n".encode())
        return out.getvalue()

    def _font_objects(self, style: str, num: int, new, put) -> None:
        f = face(style)
        name, widths, program, tounicode_data = _font_parts(style, frozenset(self.chars[style] - {"\n"}))
        cid, desc, ffile, tounicode = new(), new(), new(), new()
        put(num, f"<</Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
                 f"/DescendantFonts [{cid} 0 R] /ToUnicode {tounicode} 0 R>>")
        put(cid, f"<</Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
                 f"/CIDSystemInfo <</Registry (Adobe) /Ordering (Identity) /Supplement 0>> "
                 f"/FontDescriptor {desc} 0 R /DW {f.widths[0]} /W [{widths}] /CIDToGIDMap /Identity>>")
        put(desc, f"<</Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [{' '.join(map(str, f.bbox))}] "
                  f"/ItalicAngle 0 /Ascent {f.ascent} /Descent {f.descent} /CapHeight {f.cap_height} "
                  f"/StemV {120 if style == 'B' else 80} /FontFile2 {ffile} 0 R>>")
        raw_len, data = int.from_bytes(program[:4], "big"), program[4:]
        put(ffile, f"<</Length {len(data)} /Length1 {raw_len} /Filter /FlateDecode>>", data)
        put(tounicode, f"<</Length {len(tounicode_data)} /Filter /FlateDecode>>", tounicode_data)

    def _xmp(self) -> str:
        return xmp(self.title, self.author, self.subject, self.lang, self.created)


def xmp(title: str, author: str, subject: str, lang: str, created: datetime) -> str:
    """The XMP packet: title, author, subject, language, dates, and the PDF/UA-1 claim."""
    created = (created.astimezone(timezone.utc) if created.tzinfo else
               created.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/" '
            'xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/">\n'
            f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>\n'
            f'<dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>\n'
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(subject)}</rdf:li></rdf:Alt>'
            '</dc:description>\n'
            f'<dc:language><rdf:Bag><rdf:li>{escape(lang)}</rdf:li></rdf:Bag></dc:language>\n'
            f'<xmp:CreateDate>{created}</xmp:CreateDate>\n<xmp:ModifyDate>{created}</xmp:ModifyDate>\n'
            '<pdf:Producer>isf-ledger</pdf:Producer>\n'
            '<pdfuaid:part>1</pdfuaid:part>\n'
            '</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>')


def merge(parts: list[bytes], *, title: str, author: str, subject: str, created: datetime,
          lang: str = "en-GB") -> bytes:
    """Tagged PDFs made here, one after another as one tagged PDF (the print batch): each part's
    pages, and its structure as a Part of one Document, in order; the parent tree renumbered."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name

    out = pikepdf.new()
    top = out.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document, K=Array()))
    tree = out.make_indirect(Dictionary(Type=Name.StructTreeRoot, K=Array([top])))
    nums, key = Array(), 0
    for data in parts:
        src = pikepdf.open(io.BytesIO(data))
        part = src.Root.StructTreeRoot.K[0]
        parents = src.Root.StructTreeRoot.ParentTree.Nums
        del part["/P"]  # not the old tree root: it is not copied
        first = len(out.pages)
        for page in src.pages:
            out.pages.append(page)  # copied, with its fonts; the same copies the elements point to
        copied = out.copy_foreign(part)
        copied.S, copied.P = Name.Part, top
        top.K.append(copied)
        by_key = {int(parents[i]): parents[i + 1] for i in range(0, len(parents), 2)}
        for i, page in enumerate(src.pages):
            dest = out.pages[first + i]
            old = int(page.obj.StructParents)
            dest.obj.StructParents = key
            nums.append(key)
            nums.append(out.copy_foreign(src.make_indirect(by_key[old])))
            key += 1
    top.P = tree
    tree.ParentTree = out.make_indirect(Dictionary(Nums=nums))
    tree.ParentTreeNextKey = key
    root = out.Root
    root.StructTreeRoot, root.MarkInfo, root.Lang = tree, Dictionary(Marked=True), pikepdf.String(lang)
    root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    meta = xmp(title, author, subject, lang, created).encode("utf-8")
    root.Metadata = out.make_stream(meta, Type=Name.Metadata, Subtype=Name.XML)
    out.docinfo = out.make_indirect(Dictionary(Title=pikepdf.String(title), Author=pikepdf.String(author),
                                               Subject=pikepdf.String(subject), Producer=pikepdf.String("isf-ledger"),
                                               CreationDate=pikepdf.String(_date(created))))
    buf = io.BytesIO()
    out.save(buf, deterministic_id=True)
    return buf.getvalue()
