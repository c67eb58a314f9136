"""The worksheets of an ``.xlsx`` workbook, each read as a stream of rows, safely.

An ``.xlsx`` file is a zip archive of XML parts. Before any XML is parsed, the
archive's central directory is read and every part's sizes checked
(:func:`check_archive`): a part that unpacks to more than :data:`MAX_PART_BYTES`, all
parts together to more than :data:`MAX_TOTAL_BYTES`, a part compressed more than
:data:`MAX_RATIO` to 1 (a "zip bomb": a few kilobytes that unpack to gigabytes), an
archive of more than :data:`MAX_PARTS` parts, or a compression method other than
Excel's, is refused at once. Python's ``zipfile`` then never unpacks more of a part
than its directory declares.

The worksheet is parsed with expat, a megabyte at a time, and its rows handed on as
they are read (:class:`Sheet`), so that :func:`qi.store.limits.rows` can stop at the
first row over a limit; a cell's text is measured as it is read, and a cell past
:data:`~qi.store.limits.MAX_CELL_CHARS` characters or :data:`~qi.store.limits.MAX_COLUMNS`
columns stops the reading. A part with a document type declaration (DTD: what
"billion laughs" and external-entity attacks need) is refused: no workbook has one.

Cells come out as openpyxl reads them with ``data_only=True`` (the cached result of a
formula; numbers as int or float; a number formatted as a date as a datetime; text,
booleans, errors as text), using openpyxl's own rules for dates, so the rest of
:mod:`qi.store.reading` treats them the same way.
"""

from __future__ import annotations

import codecs
import contextlib
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pyexpat import ParserCreate
from pyexpat import error as ExpatError

from qi.store import limits

#: Parts (files) in the archive; a workbook has a few dozen.
MAX_PARTS = 10_000
#: Bytes of the archive's central directory (the list of parts).
MAX_DIRECTORY_BYTES = 4 * 2**20
#: Bytes any one part unpacks to (a million rows of six columns is about 250 MB).
MAX_PART_BYTES = 512 * 2**20
#: Bytes the shared strings (every distinct text of the workbook) unpack to.
MAX_SHARED_BYTES = 256 * 2**20
#: Bytes all parts together unpack to.
MAX_TOTAL_BYTES = 1024 * 2**20
#: Unpacked : packed size of a part above :data:`RATIO_FROM` bytes. Worksheets are
#: packed about 5 to 20 times smaller (60 for a sheet of one repeated row); a zip
#: bomb about 1,000 times.
MAX_RATIO = 200
RATIO_FROM = 2**20
#: Distinct texts in the shared strings.
MAX_SHARED_STRINGS = 2_000_000
_CHUNK = 2**20
_EXCEL_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

_REL_DOC = "/officeDocument"
_REL_SHEET = "/worksheet"
_REL_STRINGS = "/sharedStrings"
_REL_STYLES = "/styles"


def _not_workbook(name: str, why: str) -> limits.LimitExceeded:
    return limits.LimitExceeded(
        limits._problem(name, f"this is not an Excel .xlsx workbook that can be read ({why})")
    )


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


# ---------------------------------------------------------------------- the archive
def _directory_size(content: bytes) -> int | None:
    """The size of the zip's central directory, from its end record (None: no zip)."""
    tail_start = max(0, len(content) - (22 + 65_535))
    at = content.rfind(b"PK\x05\x06", tail_start)
    if at < 0 or at + 22 > len(content):
        return None
    size = struct.unpack_from("<L", content, at + 12)[0]
    locator = at - 20
    if size == 0xFFFFFFFF and locator >= 0 and content[locator : locator + 4] == b"PK\x06\x07":
        record = struct.unpack_from("<Q", content, locator + 8)[0]
        if content[record : record + 4] == b"PK\x06\x06":
            size = struct.unpack_from("<Q", content, record + 40)[0]
    return size


def check_archive(content: bytes, name: str) -> zipfile.ZipFile:
    """Open the archive and check every part's sizes from its central directory,
    before anything is unpacked (raises :class:`~qi.store.limits.LimitExceeded`)."""
    directory = _directory_size(content)
    if directory is None:
        raise _not_workbook(name, "it is not a zip archive")
    if directory > MAX_DIRECTORY_BYTES:
        limits.refuse(
            name,
            f"the workbook's list of parts takes {_mb(directory)}; the limit is "
            f"{_mb(MAX_DIRECTORY_BYTES)} (a workbook's takes a few kilobytes): it is not "
            "read. Save the sheet as CSV and upload that",
        )
    try:
        archive = zipfile.ZipFile(BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise _not_workbook(name, "its zip directory is damaged") from exc
    parts = archive.infolist()
    if len(parts) > MAX_PARTS:
        limits.refuse(
            name,
            f"the workbook has {len(parts):,} parts; the limit is {MAX_PARTS:,} (a workbook "
            "has a few dozen): it is not read. Save the sheet as CSV and upload that",
        )
    total = 0
    for part in parts:
        unpacked, packed = part.file_size, part.compress_size
        if unpacked > MAX_PART_BYTES:
            limits.refuse(
                name,
                f"the workbook's part {part.filename!r} unpacks to {_mb(unpacked)}; the limit "
                f"is {_mb(MAX_PART_BYTES)} for one part: it is not unpacked. {_split_xlsx()}",
            )
        if unpacked > RATIO_FROM and unpacked > MAX_RATIO * max(packed, 1):
            limits.refuse(
                name,
                f"the workbook's part {part.filename!r} unpacks to {_mb(unpacked)} from "
                f"{_mb(packed)}, {unpacked / max(packed, 1):,.0f} times its packed size; the "
                f"limit is {MAX_RATIO} times (a worksheet packs 5 to 60 times smaller): it is "
                f"not unpacked, as a 'zip bomb' would be. {_split_xlsx()}",
            )
        if part.compress_type not in _EXCEL_METHODS or part.flag_bits & 0x1:
            raise _not_workbook(
                name, f"its part {part.filename!r} is packed or encrypted in a way Excel never uses"
            )
        total += unpacked
    if total > MAX_TOTAL_BYTES:
        limits.refuse(
            name,
            f"the workbook unpacks to {_mb(total)}; the limit is {_mb(MAX_TOTAL_BYTES)}: it "
            f"is not unpacked. {_split_xlsx()}",
        )
    return archive


def _split_xlsx() -> str:
    return (
        "Split the data into smaller files (for example one per year or one per team), "
        "or save the sheet as CSV"
    )


# ---------------------------------------------------------------------- XML, safely
def _parser(name: str, part: str, *, namespaces: bool):
    parser = ParserCreate(namespace_separator=" ") if namespaces else ParserCreate()

    def refuse_dtd(*_):
        raise _not_workbook(name, f"its part {part!r} declares a document type, which no "
                            "workbook does: it is not read")  # fmt: skip

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.buffer_text = True
    parser.buffer_size = 65_536
    return parser


def _feed(archive: zipfile.ZipFile, part: str, parser, name: str, on_chunk=None) -> None:
    """Parse ``part`` a megabyte at a time (``on_chunk(bytes_read, size)`` after each)."""
    try:
        info = archive.getinfo(part)
    except KeyError as exc:
        raise _not_workbook(name, f"its part {part!r} is missing") from exc
    done = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                done += len(chunk)
                parser.Parse(chunk, False)
                if on_chunk is not None:
                    on_chunk(done, info.file_size)
            parser.Parse(b"", True)
    except ExpatError as exc:
        raise _not_workbook(name, f"its part {part!r} is not well-formed XML") from exc
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
        # a bad CRC, a part longer than its directory says, encryption
        if isinstance(exc, limits.LimitExceeded):
            raise
        raise _not_workbook(name, f"its part {part!r} cannot be unpacked") from exc


def _local(tag: str) -> str:
    return tag.rpartition(" ")[2]


def _small_part(archive, part: str, name: str, start, end=None) -> None:
    parser = _parser(name, part, namespaces=True)
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    _feed(archive, part, parser, name)


def _relationships(archive, part: str, name: str) -> dict[str, tuple[str, str]]:
    """Id → (type, target path in the archive) of a part's relationships."""
    rels_path = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    found: dict[str, tuple[str, str]] = {}

    def start(tag, attrs):
        if _local(tag) == "Relationship" and "Target" in attrs:
            target = attrs["Target"]
            if attrs.get("TargetMode") == "External":
                return
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(posixpath.dirname(part), target))
            )
            found[attrs.get("Id", "")] = (attrs.get("Type", ""), path)

    if rels_path in archive.NameToInfo:
        _small_part(archive, rels_path, name, start)
    return found


class _Book:
    """Where the worksheets (in the workbook's order, with their names), shared strings
    and styles are, and the date epoch."""

    def __init__(self, archive: zipfile.ZipFile, name: str):
        root = _relationships(archive, "", name)
        doc = next((p for t, p in root.values() if t.endswith(_REL_DOC)), "xl/workbook.xml")
        self.date1904 = False
        sheet_ids: list[tuple[str, str]] = []

        def start(tag, attrs):
            local = _local(tag)
            if local == "workbookPr":
                self.date1904 = attrs.get("date1904", "0").lower() in ("1", "true")
            elif local == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), None)
                if rid is not None:
                    sheet_ids.append((attrs.get("name", ""), rid))

        _small_part(archive, doc, name, start)
        rels = _relationships(archive, doc, name)
        self.sheets = [
            (title, rels[r][1])
            for title, r in sheet_ids
            if r in rels and rels[r][0].endswith(_REL_SHEET)
        ]
        if not self.sheets:
            raise _not_workbook(name, "it has no worksheet")
        self.sheet = self.sheets[0][1]
        self.strings = next((p for t, p in rels.values() if t.endswith(_REL_STRINGS)), None)
        self.styles = next((p for t, p in rels.values() if t.endswith(_REL_STYLES)), None)


def _shared_strings(archive, part: str | None, name: str, memory: _Memory) -> list[str]:
    if part is None or part not in archive.NameToInfo:
        return []
    size = archive.getinfo(part).file_size
    if size > MAX_SHARED_BYTES:
        limits.refuse(
            name,
            f"the workbook's texts (its part {part!r}) unpack to {_mb(size)}; the limit is "
            f"{_mb(MAX_SHARED_BYTES)}: it is not unpacked. {_split_xlsx()}",
        )
    strings: list[str] = []
    parts: list[str] = []
    state = {"si": False, "t": False, "rph": 0, "len": 0}
    max_chars = limits.MAX_CELL_CHARS

    def start(tag, _attrs):
        local = _local(tag)
        if local == "si":
            state["si"], state["len"] = True, 0
            parts.clear()
        elif local == "t" and state["si"] and not state["rph"]:
            state["t"] = True
        elif local == "rPh":
            state["rph"] += 1

    def end(tag):
        local = _local(tag)
        if local == "si":
            state["si"] = False
            text_ = "".join(parts)
            strings.append(text_)
            if len(strings) > MAX_SHARED_STRINGS:
                limits.refuse(
                    name,
                    f"the workbook holds more than {MAX_SHARED_STRINGS:,} distinct texts; the "
                    f"limit is {MAX_SHARED_STRINGS:,}: {_split_xlsx()[0].lower()}"
                    f"{_split_xlsx()[1:]}",
                )
        elif local == "t":
            state["t"] = False
        elif local == "rPh":
            state["rph"] -= 1

    def text(data):
        if state["t"]:
            state["len"] += len(data)
            if state["len"] > max_chars:
                raise limits.cell_too_long(name, None, f"text {len(strings) + 1} of the workbook")
            parts.append(data)

    parser = _parser(name, part, namespaces=True)
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = text
    _feed(archive, part, parser, name, on_chunk=lambda *_: memory.check())
    return strings


def _date_styles(archive, part: str | None, name: str) -> tuple[set[int], set[int]]:
    """The cell styles (indexes) that show a number as a date, and as a duration."""
    from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format

    if part is None or part not in archive.NameToInfo:
        return set(), set()
    custom: dict[int, str] = {}
    formats: list[int] = []
    depth = {"cellXfs": 0}

    def start(tag, attrs):
        local = _local(tag)
        if local == "numFmt":
            with contextlib.suppress(ValueError):
                custom[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            depth["cellXfs"] += 1
        elif local == "xf" and depth["cellXfs"]:
            try:
                formats.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                formats.append(0)

    def end(tag):
        if _local(tag) == "cellXfs":
            depth["cellXfs"] -= 1

    _small_part(archive, part, name, start, end)
    dates, durations = set(), set()
    for index, fmt_id in enumerate(formats):
        fmt = custom.get(fmt_id) or builtin_format_code(fmt_id)
        if is_date_format(fmt):
            dates.add(index)
        if is_timedelta_format(fmt):
            durations.add(index)
    return dates, durations


class _Memory:
    """Refuses the file when reading it has grown the process by more than the ceiling."""

    def __init__(self, name: str):
        self.name = name
        self.start = limits.resident_bytes()

    def check(self) -> None:
        if limits.resident_bytes() - self.start > limits.MAX_MEMORY:
            raise limits.out_of_memory(self.name)


# ---------------------------------------------------------------------- the worksheet
def _column(letters: str, cache: dict[str, int]) -> int:
    index = cache.get(letters)
    if index is None:
        index = 0
        for ch in letters.upper():
            if not "A" <= ch <= "Z":
                return 0
            index = index * 26 + ord(ch) - 64
        cache[letters] = index
    return index


def _cast_number(text: str) -> int | float:
    """A number as openpyxl reads it: a float if written with a point or exponent."""
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


class Workbook:
    """An ``.xlsx`` workbook whose archive has been checked (:func:`check_archive`), with
    its shared strings and date styles read: :meth:`sheet` gives each worksheet's rows.

    Opening it raises :class:`~qi.store.limits.LimitExceeded` for a workbook that cannot
    be read safely (its problem says why)."""

    def __init__(self, content: bytes, name: str):
        self.name = name
        self.archive = check_archive(content, name)
        self.memory = _Memory(name)
        self._book = _Book(self.archive, name)
        self.strings = _shared_strings(self.archive, self._book.strings, name, self.memory)
        self.dates, self.durations = _date_styles(self.archive, self._book.styles, name)

    @property
    def sheet_names(self) -> list[str]:
        return [title for title, _ in self._book.sheets]

    def sheet(self, index: int) -> Sheet:
        """The rows of the worksheet at ``index`` (0 is the first)."""
        return Sheet(self, index)


class Sheet:
    """The rows of one worksheet (the first by default): iterate over it for one list
    of cell values per spreadsheet row from row 1 (a row with no cells is an empty list).

    ``book`` is a :class:`Workbook`, or the bytes of one (then ``where`` is the file's
    name). Iterating raises :class:`~qi.store.limits.LimitExceeded` for a workbook that
    cannot be read safely or passes a limit (its problem says which); :meth:`fraction`
    says how much of the worksheet has been read.

    Cells come as :func:`qi.store.reading._cell` gives them: text ("" for an empty
    cell), int or float, a date as ``2024-03-01``, True or False.
    """

    def __init__(self, book: Workbook | bytes, where: str | int = 0):
        if isinstance(book, bytes | bytearray):
            self._content, self.name, self.index = bytes(book), str(where), 0
            self.book: Workbook | None = None
        else:
            self.book, self.name, self.index = book, book.name, int(where)
        self.read, self.size = 0, 1

    def fraction(self) -> float:
        return self.read / self.size

    def __iter__(self) -> Iterator[list]:
        return self._rows()

    def _rows(self) -> Iterator[list]:
        name = self.name
        book = self.book if self.book is not None else Workbook(self._content, name)
        archive, memory = book.archive, book.memory
        part = book._book.sheets[self.index][1]
        try:
            info = archive.getinfo(part)
        except KeyError as exc:
            raise _not_workbook(name, f"its worksheet {part!r} is missing") from exc
        self.size = max(info.file_size, 1)
        cells = _Cells(name, book.strings, book.dates, book.durations, book._book.date1904)
        decoder = codecs.getincrementaldecoder("utf-8")()
        rows = _Rows(name, cells)
        text = ""
        try:
            with archive.open(info) as stream:
                while True:
                    chunk = stream.read(_CHUNK)
                    self.read += len(chunk)
                    text += decoder.decode(chunk, final=not chunk)
                    text = rows.feed(text, final=not chunk)
                    memory.check()
                    if rows.done:
                        yield from rows.done
                        rows.done.clear()
                    if not chunk:
                        break
        except UnicodeDecodeError as exc:
            raise _not_workbook(name, "its worksheet is not UTF-8 text") from exc
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
            if isinstance(exc, limits.LimitExceeded):
                raise
            # a bad CRC, or a part longer than its directory says
            raise _not_workbook(name, "its worksheet cannot be unpacked") from exc


# The worksheet is scanned with regular expressions rather than an XML parser: a
# million rows are 40 million parser events, too slow one Python call each. What the
# scan reads is what a worksheet holds (rows of cells of values, inline text runs);
# what no spreadsheet program writes there (a DTD, comments, CDATA) is refused, so
# nothing a scan could misread gets through.
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);|&")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ROOT = re.compile(r"<([\w.-]+:)?worksheet[\s/>]")
#: attributes written plainly: one space before each, double quotes, nothing escaped
_PLAIN = re.compile(r'(?: [\w:.-]+="[^"&]*")*\s*/?')
_UNREAD = ("<!DOCTYPE", "<!ENTITY", "<!--", "<![CDATA[")


def _unescape(text: str, name: str) -> str:
    def one(m: re.Match) -> str:
        ref = m.group(1)
        if ref is None:
            raise _not_workbook(name, "its worksheet has a bare '&'")
        if ref[0] != "#":
            if ref not in _NAMED:
                raise _not_workbook(name, f"its worksheet uses an undeclared entity &{ref};")
            return _NAMED[ref]
        try:
            return chr(int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:]))
        except (ValueError, OverflowError) as exc:
            raise _not_workbook(name, f"its worksheet has a bad character &{ref};") from exc

    return _ENTITY.sub(one, text)


def _attrs(text: str, name: str) -> dict[str, str]:
    found = {}
    for key, double, single in _ATTR.findall(text):
        value = double or single
        found[key] = _unescape(value, name) if "&" in value else value
    return found


class _Cells:
    """A cell's value from its type, style and text, as reading._cell would give it."""

    def __init__(self, name, strings, dates, durations, date1904: bool):
        from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH

        self.name, self.strings = name, strings
        self.dates, self.durations = dates, durations
        self.epoch = MAC_EPOCH if date1904 else WINDOWS_EPOCH
        self.numbers: dict[str, object] = {}  # text → value: repeated numbers cost nothing
        self.texts: dict[str, str] = {}  # repeated inline text shares one string

    def value(self, kind: str, style: str | None, text: str | None, ref: str) -> object:
        if text is None or text == "":
            return ""
        try:
            if kind == "n":
                if style and style != "0" and int(style) in self.dates:
                    return self._date(_cast_number(text), int(style))
                known = self.numbers.get(text)
                if known is None:
                    number = _cast_number(text)
                    if isinstance(number, float) and number.is_integer():
                        number = int(number)
                    if len(self.numbers) < 100_000:
                        self.numbers[text] = number
                    return number
                return known
            if kind == "s":
                return self.strings[int(text)]
            if kind == "inlineStr" or kind == "str" or kind == "e":
                if len(self.texts) < 200_000:
                    return self.texts.setdefault(text, text)
                return text
            if kind == "b":
                return bool(int(text))
            if kind == "d":
                from openpyxl.utils.datetime import from_ISO8601

                from qi.store.reading import _cell

                return _cell(from_ISO8601(text))
        except (ValueError, IndexError, TypeError, OverflowError) as exc:
            raise _not_workbook(self.name, f"cell {ref} holds {text[:20]!r}") from exc
        return text

    def _date(self, number, style: int) -> object:
        from openpyxl.utils.datetime import from_excel

        from qi.store.reading import _cell

        try:
            return _cell(from_excel(number, self.epoch, timedelta=style in self.durations))
        except (OverflowError, ValueError):
            return "#VALUE!"


class _Rows:
    """Scans worksheet text for rows of cells; finished rows collect in :attr:`done`."""

    #: XML of one row, at most (a row of 1,000 cells of 32,767 characters is 32 MB)
    LONGEST_ROW = 64 * 2**20

    def __init__(self, name: str, cells: _Cells):
        self.name, self.cells = name, cells
        self.done: list[list] = []
        self.prefix: str | None = None
        self.row_no = 0
        self.next_row = 1
        self.columns: dict[str, int] = {}
        self.kinds: dict[str, tuple[str, str | None]] = {}  # a cell's other attributes

    def _compile(self, prefix: str) -> None:
        e = re.escape(prefix)
        self.prefix = prefix
        self.row_tag = re.compile(rf"<{e}row(?=[\s/>])([^>]*?)(?:/>|>(.*?)</{e}row\s*>)", re.S)
        # a cell: its column letters (from r, when written first, as every spreadsheet
        # program does), its other attributes, and what is inside it
        self.cell_tag = re.compile(
            rf'<{e}c(?=[\s/>])(?: r="([A-Za-z]*)[0-9]*")?([^>]*?)(?:/>|>(.*?)</{e}c\s*>)', re.S
        )
        self.value_tag = re.compile(rf"<{e}v(?:\s[^>]*)?>([^<]*)</{e}v\s*>", re.S)
        self.text_tag = re.compile(rf"<{e}t(?:\s[^>]*)?>([^<]*)</{e}t\s*>|<{e}t(?:\s[^>]*)?/>")
        self.phonetic = re.compile(rf"<{e}rPh[\s>].*?</{e}rPh\s*>", re.S)
        self.row_end = f"</{prefix}row>"
        self.empty_row = re.compile(rf"<{e}row(?:\s[^<>]*)?/>")
        self.v_open, self.v_close = f"<{prefix}v>", f"</{prefix}v>"

    def feed(self, text: str, *, final: bool) -> str:
        """Read the complete rows of ``text``; return the rest (an incomplete row)."""
        name = self.name
        for marker in _UNREAD:
            if marker in text:
                raise _not_workbook(
                    name,
                    "its worksheet has a document type declaration"
                    if marker in ("<!DOCTYPE", "<!ENTITY")
                    else "its worksheet has XML comments or CDATA sections, which spreadsheet "
                    "programs never write: save it again from a spreadsheet program, or as CSV",
                )
        if self.prefix is None:
            root = _ROOT.search(text)
            if root is None:
                if final or len(text) > 2**20:
                    raise _not_workbook(name, "it has no worksheet")
                return text
            self._compile(root.group(1) or "")
        if final:
            cut = len(text)
        else:
            cut = text.rfind(self.row_end)
            cut = cut + len(self.row_end) if cut >= 0 else 0
            closing = text.rfind("/>")
            if closing > cut:  # after the last row closed by />, if it is one
                opening = text.rfind("<", 0, closing)
                if self.empty_row.fullmatch(text, opening, closing + 2):
                    cut = closing + 2
        if cut:
            self._scan(text, cut)
        rest = text[cut:]
        if len(rest) > self.LONGEST_ROW:
            limits.refuse(
                name,
                f"a row after row {self.row_no:,} takes more than "
                f"{self.LONGEST_ROW // 2**20} MB: it cannot be a row of a table within the "
                f"limits. {_split_xlsx()}",
            )
        if final and self.row_tag.search(rest):
            raise _not_workbook(name, f"its row after row {self.row_no} never ends")
        return rest

    def _scan(self, text: str, end: int) -> None:
        name, done = self.name, self.done
        for row_attrs, inner in self.row_tag.findall(text, 0, end):
            number = _plain_attr(row_attrs, ' r="') if row_attrs else None
            if number is None and row_attrs and not _PLAIN.fullmatch(row_attrs):
                number = _attrs(row_attrs, name).get("r")
            if number is None:
                number = self.next_row
            elif number.isdigit():
                number = int(number)
            else:
                raise _not_workbook(name, f"a row is numbered {number[:20]!r}")
            if number < self.next_row or number > 1_048_576:
                raise _not_workbook(name, f"its rows are out of order at row {number}")
            while self.next_row < number:  # rows with no cells in between are blank
                done.append([])
                self.next_row += 1
            self.row_no, self.next_row = number, number + 1
            done.append(self._cells(inner) if inner else [])

    def _cells(self, inner: str) -> list:
        name, cells, columns, kinds = self.name, self.cells, self.columns, self.kinds
        row: list = []
        for letters, attrs, content in self.cell_tag.findall(inner):
            kind_style = kinds.get(attrs)
            if kind_style is None:
                kind_style = self._kind(attrs)
            kind, style = kind_style
            if letters:
                column = columns.get(letters) or _column(letters, columns)
            elif kind == "?":  # r written after another attribute
                kind, style, column = self._kind_and_column(attrs, len(row))
            else:
                column = len(row) + 1
            if not content:
                text = None
            elif content.startswith(self.v_open) and content.endswith(self.v_close):
                text = content[len(self.v_open) : -len(self.v_close)]
                if "<" in text:
                    text = self._value(content)
            elif kind == "inlineStr":
                runs = self.phonetic.sub("", content)
                found = self.text_tag.findall(runs)
                text = "".join(found) if found else ("" if "<" in runs else None)
            else:
                text = self._value(content)
            if text:
                text = self._text(text, kind, column)
            value = cells.value(kind, style, text, column) if text else ""
            if column > len(row):
                if column > limits.MAX_COLUMNS:
                    if value != "":
                        raise limits.too_many_columns(name, self.row_no)
                    continue
                if column - 1 > len(row):
                    row.extend([""] * (column - 1 - len(row)))
                row.append(value)
            else:
                row[column - 1] = value
        return row

    def _value(self, content: str) -> str | None:
        found = self.value_tag.search(content)
        return found.group(1) if found else None

    def _text(self, text: str, kind: str, column: int) -> str:
        if "&" in text or "\r" in text:
            text = _unescape(text.replace("\r\n", "\n").replace("\r", "\n"), self.name)
        if len(text) > limits.MAX_CELL_CHARS:
            ref = f"{_letters(column)}{self.row_no}"
            raise limits.cell_too_long(self.name, self.row_no, f"cell {ref}")
        return text

    def _kind(self, attrs: str) -> tuple[str, str | None]:
        """(type, style) from a cell's attributes other than a leading r (cached)."""
        if _PLAIN.fullmatch(attrs):
            if ' r="' in attrs:
                return "?", None  # r not first: worked out for each cell
            found = (_plain_attr(attrs, ' t="') or "n", _plain_attr(attrs, ' s="'))
        else:
            parsed = _attrs(attrs, self.name)
            if "r" in parsed:
                return "?", None
            found = (parsed.get("t", "n"), parsed.get("s"))
        if len(self.kinds) < 10_000:
            self.kinds[attrs] = found
        return found

    def _kind_and_column(self, attrs: str, filled: int) -> tuple[str, str | None, int]:
        parsed = _attrs(attrs, self.name)
        letters = parsed.get("r", "").rstrip("0123456789")
        column = _column(letters, self.columns) if letters else filled + 1
        if column <= 0:
            raise _not_workbook(self.name, f"a cell is called {parsed.get('r', '')[:20]!r}")
        return parsed.get("t", "n"), parsed.get("s"), column


def _letters(column: int) -> str:
    out = ""
    while column > 0:
        column, rem = divmod(column - 1, 26)
        out = chr(65 + rem) + out
    return out


def _plain_attr(attrs: str, key: str) -> str | None:
    """An attribute's value from a tag's attributes written plainly (``key`` is
    ``' t="'``): one space before, double quotes, nothing escaped."""
    at = attrs.find(key)
    if at < 0:
        return None
    start = at + len(key)
    return attrs[start : attrs.find('"', start)]
