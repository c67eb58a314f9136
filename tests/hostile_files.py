"""Hostile (and very large) upload files, made in memory, small however much they unpack to.

Used by ``tests/test_hostile_uploads.py`` and ``benchmarks/bench_hostile.py``. Nothing
here is stored on disk: a zip bomb is a few megabytes of bytes built on the fly.

A zip bomb is built as an attacker would: one block of repeated text is compressed
once and its compressed form repeated (each copy ends with a full flush, so the copies
are independent and their concatenation is a valid deflate stream), with the sizes and
CRC the archive's directory declares set to what it really unpacks to (or, with
``lie=True``, to a small size, to show that the reader trusts no declared size).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
HEADER = ("team", "measure", "period", "group", "numerator", "denominator")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------------- a zip writer
class _Part:
    def __init__(self, name: str, compressed: bytes, size: int, crc: int, method: int = 8):
        self.name, self.compressed, self.size, self.crc, self.method = (
            name.encode(),
            compressed,
            size,
            crc,
            method,
        )


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def part(name: str, data: bytes | str) -> _Part:
    raw = data.encode() if isinstance(data, str) else data
    return _Part(name, _deflate(raw), len(raw), zlib.crc32(raw))


def streamed_part(name: str, pieces: Iterable[bytes]) -> _Part:
    """A part compressed as its pieces come (a large sheet never held whole)."""
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    out, size, crc = [], 0, 0
    for piece in pieces:
        size += len(piece)
        crc = zlib.crc32(piece, crc)
        out.append(c.compress(piece))
    out.append(c.flush())
    return _Part(name, b"".join(out), size, crc)


def repeated_part(
    name: str, head: bytes, block: bytes, copies: int, tail: bytes, *, lie: bool = False
) -> _Part:
    """``head + block * copies + tail``, compressed without ever being built."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = c2.compress(block) + c2.flush(zlib.Z_FULL_FLUSH)
    c3 = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = c3.compress(tail) + c3.flush()
    size = len(head) + len(block) * copies + len(tail)
    crc = zlib.crc32(head)
    for _ in range(copies):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    if lie:
        size, crc = 2**20, 0
    return _Part(name, first + one * copies + last, size, crc)


def zip_bytes(parts: Iterable[_Part]) -> bytes:
    """A zip archive of ``parts`` (sizes below 4 GiB; no zip64)."""
    body, directory = bytearray(), bytearray()
    count = 0
    for p in parts:
        count += 1
        offset = len(body)
        fields = (20, 0, p.method, 0, 0x21, p.crc, len(p.compressed), p.size, len(p.name), 0)
        body += struct.pack("<4s5HL2L2H", b"PK\x03\x04", *fields) + p.name + p.compressed
        directory += (
            struct.pack(
                "<4s6HL2L5HLL",
                b"PK\x01\x02",
                20,
                *fields[:9],
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + p.name
        )
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


# ---------------------------------------------------------------------- workbooks
def frame_types() -> str:
    """The content types of a workbook's parts, without the closing ``</Types>``."""
    sheet = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
        '2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        f'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        f'ContentType="{sheet}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
        f'ContentType="{sheet}.worksheet+xml"/>'
    )


def _frame_parts(sheet: _Part, extra: Iterable[_Part] = ()) -> list[_Part]:
    return [
        part("[Content_Types].xml", frame_types() + "</Types>"),
        part(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" '
            f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        ),
        part(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        ),
        part(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" '
            f'Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        ),
        sheet,
        *extra,
    ]


SHEET_HEAD = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"


def _inline(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def header_row() -> bytes:
    cells = "".join(_inline(f"{chr(65 + j)}1", h) for j, h in enumerate(HEADER))
    return f'<row r="1">{cells}</row>'.encode()


def workbook(rows: Iterable[bytes]) -> bytes:
    """A workbook whose sheet's rows are the given ``<row>`` elements."""

    def pieces() -> Iterator[bytes]:
        yield SHEET_HEAD
        batch = []
        for r in rows:
            batch.append(r)
            if len(batch) >= 10_000:
                yield b"".join(batch)
                batch.clear()
        yield b"".join(batch)
        yield SHEET_TAIL

    return zip_bytes(_frame_parts(streamed_part("xl/worksheets/sheet1.xml", pieces())))


def valid_rows(count: int, teams: list[str], measure: str = "restraint") -> Iterator[bytes]:
    """``count`` valid observation rows (after the header) for a u-chart measure:
    team × month × group, each combination once."""
    groups = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
    months = [f"{y}-{m:02d}" for y in range(1990, 2026) for m in range(1, 13)]
    i = 0
    for team in teams:
        for month in months:
            for group in groups:
                if i >= count:
                    return
                r = i + 2
                yield (
                    f'<row r="{r}">{_inline(f"A{r}", team)}{_inline(f"B{r}", measure)}'
                    f"{_inline(f'C{r}', month)}{_inline(f'D{r}', group)}"
                    f'<c r="E{r}"><v>{i % 7}</v></c><c r="F{r}"><v>{100 + i % 300}</v></c></row>'
                ).encode()
                i += 1


def one_cell_bomb(gib: float = 3.0, *, lie: bool = False) -> bytes:
    """A workbook whose one cell unpacks to ``gib`` GiB of text (a few MB packed)."""
    block = b"A" * 2**20
    copies = int(gib * 1024)
    head = SHEET_HEAD + header_row() + b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    tail = b"</t></is></c></row>" + SHEET_TAIL
    sheet = repeated_part("xl/worksheets/sheet1.xml", head, block, copies, tail, lie=lie)
    return zip_bytes(_frame_parts(sheet))


def rows_bomb(rows: int = 10_000_000) -> bytes:
    """A workbook of ``rows`` identical rows (no row numbers: they are optional), packed
    about a thousand times smaller than it unpacks."""
    values = ("Willow Ward", "restraint", "2024-03", "Black", "1", "100")
    cells = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)
    one = f"<row>{cells}</row>".encode()
    block = one * 1000
    sheet = repeated_part(
        "xl/worksheets/sheet1.xml", SHEET_HEAD + header_row(), block, rows // 1000, SHEET_TAIL
    )
    return zip_bytes(_frame_parts(sheet))


def many_parts(count: int = 60_000) -> bytes:
    """A workbook with ``count`` tiny extra parts (a directory far bigger than a workbook's)."""
    sheet = part("xl/worksheets/sheet1.xml", SHEET_HEAD + header_row() + SHEET_TAIL)
    extra = (part(f"x/{i}.xml", b"") for i in range(count))
    return zip_bytes(_frame_parts(sheet, extra))


def dtd_workbook(kind: str = "laughs") -> bytes:
    """A workbook whose sheet declares entities: "laughs" (billion laughs) or "xxe"
    (an external entity naming a local file)."""
    if kind == "xxe":
        dtd = b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        cell = b"&x;"
    else:
        levels = [b'<!ENTITY l0 "ha">'] + [
            f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">'.encode() for i in range(1, 10)
        ]
        dtd = b"<!DOCTYPE worksheet [" + b"".join(levels) + b"]>"
        cell = b"&l9;"
    xml = (
        b'<?xml version="1.0"?>'
        + dtd
        + f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
        + header_row()
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        + cell
        + b"</t></is></c></row>"
        + SHEET_TAIL
    )
    return zip_bytes(_frame_parts(part("xl/worksheets/sheet1.xml", xml)))


def wide_row_workbook(columns: int = 5_000) -> bytes:
    """A workbook with one row of ``columns`` filled cells."""
    from openpyxl.utils import get_column_letter

    cells = "".join(f'<c r="{get_column_letter(j)}2"><v>1</v></c>' for j in range(1, columns + 1))
    return workbook([f'<row r="2">{cells}</row>'.encode()])


# ---------------------------------------------------------------------- CSV
def tiny_rows_csv(megabytes: int = 49) -> bytes:
    """A CSV of one short header and then ``megabytes`` MB of two-character rows."""
    body = b"1\n" * (megabytes * 2**20 // 2)
    return b"team,measure,period,group,numerator,denominator\n" + body


def bad_rows_csv(rows: int = 2_000_000) -> bytes:
    """A CSV of ``rows`` rows, every one of them wrong (unknown team, not a month...)."""
    line = b"Elm,bad,2024-13,?,-1,x\n"
    return b"team,measure,period,group,numerator,denominator\n" + line * rows


def blank_lines_csv(megabytes: int = 49) -> bytes:
    """A header and then nothing but line breaks."""
    return b"team,measure,period,group,numerator,denominator\n" + b"\n" * (megabytes * 2**20)


def long_cell_csv(characters: int = 40 * 2**20) -> bytes:
    """A CSV with one quoted cell of ``characters`` characters."""
    return (
        b'team,measure,period,group,numerator,denominator\n"' + b"x" * characters + b'",a,b,c,1,2\n'
    )


def wide_csv(columns: int = 100_000) -> bytes:
    """A CSV whose second row has ``columns`` filled cells."""
    return b"team,measure,period,group,numerator,denominator\n" + b"1," * columns + b"1\n"


def valid_csv(count: int, teams: list[str], measure: str = "restraint") -> bytes:
    """``count`` valid observation rows after the header, as CSV."""
    groups = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
    months = [f"{y}-{m:02d}" for y in range(1990, 2026) for m in range(1, 13)]
    out = [",".join(HEADER)]
    i = 0
    for team in teams:
        for month in months:
            for group in groups:
                if i >= count:
                    return ("\n".join(out) + "\n").encode()
                out.append(f"{team},{measure},{month},{group},{i % 7},{100 + i % 300}")
                i += 1
    return ("\n".join(out) + "\n").encode()


def valid_rows_shared(count: int, teams: list[str], measure: str = "restraint"):
    """The same rows as :func:`valid_rows`, with text in the shared strings (as Excel
    writes it): returns ``(rows, shared strings)``."""
    groups = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
    months = [f"{y}-{m:02d}" for y in range(1990, 2026) for m in range(1, 13)]
    shared = [*HEADER, measure, *groups, *teams, *months]
    index = {v: i for i, v in enumerate(shared)}

    def rows() -> Iterator[bytes]:
        cells = "".join(f'<c r="{chr(65 + j)}1" t="s"><v>{j}</v></c>' for j in range(6))
        yield f'<row r="1">{cells}</row>'.encode()
        i = 0
        for team in teams:
            for month in months:
                for group in groups:
                    if i >= count:
                        return
                    r = i + 2
                    yield (
                        f'<row r="{r}" spans="1:6"><c r="A{r}" s="1" t="s"><v>{index[team]}</v></c>'
                        f'<c r="B{r}" s="1" t="s"><v>{index[measure]}</v></c>'
                        f'<c r="C{r}" s="1" t="s"><v>{index[month]}</v></c>'
                        f'<c r="D{r}" s="1" t="s"><v>{index[group]}</v></c>'
                        f'<c r="E{r}"><v>{i % 7}</v></c>'
                        f'<c r="F{r}"><v>{100 + i % 300}</v></c></row>'
                    ).encode()
                    i += 1

    return rows(), shared


def workbook_shared(rows: Iterable[bytes], shared: list[str]) -> bytes:
    """A workbook whose text lives in its shared strings, with a styles part (as Excel
    writes one)."""
    from xml.sax.saxutils import escape

    sst = (
        f'<?xml version="1.0"?><sst xmlns="{MAIN}" count="{len(shared)}">'
        + "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
        + "</sst>"
    )
    styles = (
        f'<?xml version="1.0"?><styleSheet xmlns="{MAIN}"><cellXfs count="2">'
        '<xf numFmtId="0"/><xf numFmtId="49"/></cellXfs></styleSheet>'
    )

    def pieces() -> Iterator[bytes]:
        yield SHEET_HEAD
        batch = []
        for r in rows:
            batch.append(r)
            if len(batch) >= 10_000:
                yield b"".join(batch)
                batch.clear()
        yield b"".join(batch)
        yield SHEET_TAIL

    frame = _frame_parts(streamed_part("xl/worksheets/sheet1.xml", pieces()))
    types = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    frame[0] = part(
        "[Content_Types].xml",
        frame_types()
        + f'<Override PartName="/xl/sharedStrings.xml" ContentType="{types}.sharedStrings+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{types}.styles+xml"/></Types>',
    )
    frame[3] = part(
        "xl/_rels/workbook.xml.rels",
        f'<?xml version="1.0"?><Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
        f'Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" '
        f'Type="{RELS}/styles" Target="styles.xml"/></Relationships>',
    )
    return zip_bytes([*frame, part("xl/sharedStrings.xml", sst), part("xl/styles.xml", styles)])
