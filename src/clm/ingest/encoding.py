"""Character encodings of text files: detect, verify, and hand DuckDB UTF-8.

Files from Chinese companies arrive in UTF-8, in UTF-8 with a byte-order mark (what Excel's
"CSV UTF-8" writes) or in GBK (Excel's default "CSV" on a Chinese Windows). GB18030 is the
national standard and a strict superset of GBK, so it is the fallback that always works for
either; GBK is tried first only so the report can name what the file really is.

Detection is a strict decode of the whole file, not a guess from a sample: a UTF-8 decoder
rejects GBK text with near certainty (GBK's lead bytes 0x81-0xFE are rarely followed by valid
UTF-8 continuation bytes), and decoding runs at about 600 MB/s here, a small cost next to
parsing. The same pass counts physical lines, which the CSV reader uses to decide whether
record numbers equal line numbers. DuckDB reads only UTF-8, so any other encoding is transcoded
in streaming chunks into a temporary UTF-8 file.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from clm.errors import DataFileError

CHUNK = 1 << 24  # 16 MiB
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
_TAIL = 1 << 16


@dataclass(frozen=True)
class TextFile:
    """A text file ready for DuckDB: ``path`` is UTF-8 (possibly a transcoded temporary)."""

    path: Path
    encoding: str  # what the original file was: utf-8, utf-8-sig, gbk or gb18030
    lines: int  # physical lines, trailing blank lines not counted


def _trailing_newlines(path: Path) -> int:
    """Newlines inside the trailing run of whitespace at the end of a UTF-8 file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - _TAIL))
        tail = fh.read()
    stripped = tail.rstrip(b"\r\n\t ")
    return tail[len(stripped):].count(b"\n")


def _count_lines(path: Path, newlines: int) -> int:
    if path.stat().st_size == 0:
        return 0
    return newlines - _trailing_newlines(path) + 1


def _decode_error(path: Path, encoding: str, offset: int, line: int) -> DataFileError:
    return DataFileError(
        f"{path.name}: line {line} is not valid {encoding} (byte {offset}); save the file as "
        "UTF-8 or set ingest.encoding in clm.toml (utf-8, utf-8-sig, gbk, gb18030)",
        file=path.name,
        line=line,
    )


def _verify_utf8(path: Path) -> tuple[bool, int, tuple[int, int]]:
    """Strictly decode ``path`` as UTF-8; (ok, newline count, (bad byte offset, its line))."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines = 0
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = newlines + chunk[: exc.start].count(b"\n") + 1
                return False, newlines, (offset + exc.start, line)
            newlines += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False, newlines, (offset, newlines + 1)
    return True, newlines, (0, 0)


def _has_bom(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(3) == codecs.BOM_UTF8


def _transcode(path: Path, encoding: str, dest: Path) -> int:
    """Decode ``path`` strictly as ``encoding`` into UTF-8 ``dest``; return its newline count."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    newlines = 0
    offset = 0
    with path.open("rb") as src, dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = newlines + chunk[: exc.start].count(b"\n") + 1
                raise _decode_error(path, encoding, offset + exc.start, line) from None
            data = text.encode("utf-8")
            newlines += data.count(b"\n")
            offset += len(chunk)
            out.write(data)
        try:
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError:
            raise _decode_error(path, encoding, offset, newlines + 1) from None
    return newlines


def prepare_text(path: Path, *, encoding: str = "auto", workdir: Path) -> TextFile:
    """Detect (``encoding="auto"``) or verify the encoding of ``path``; return a UTF-8 view.

    Parameters
    ----------
    path
        The user's text file (CSV or JSON lines).
    encoding
        ``auto`` or one of :data:`ENCODINGS`; an explicit value overrides detection and is
        checked strictly, so a wrong override fails with the line it broke on.
    workdir
        Where a transcoded temporary copy is written (the caller removes it).

    Raises
    ------
    DataFileError
        The file is not valid in the given encoding, or (``auto``) neither UTF-8 nor GB18030.
    """
    if encoding not in ("auto", *ENCODINGS):
        raise DataFileError(
            f"{path.name}: unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}",
            file=path.name,
        )
    if encoding in ("auto", "utf-8", "utf-8-sig"):
        ok, newlines, (offset, line) = _verify_utf8(path)
        if ok:
            detected = "utf-8-sig" if _has_bom(path) else "utf-8"
            if encoding != "auto":
                detected = encoding if detected == "utf-8" else detected
            return TextFile(path=path, encoding=detected, lines=_count_lines(path, newlines))
        if encoding != "auto":
            raise _decode_error(path, encoding, offset, line)
    dest = workdir / f"{path.stem}.utf8{path.suffix}"
    candidates = ("gbk", "gb18030") if encoding == "auto" else (encoding,)
    for i, candidate in enumerate(candidates):
        try:
            newlines = _transcode(path, candidate, dest)
        except DataFileError as exc:
            if i + 1 < len(candidates):
                continue
            if encoding == "auto":
                raise DataFileError(
                    f"{path.name}: neither UTF-8 nor GB18030 (first bad byte on line "
                    f"{exc.context.get('line')}); save the file as UTF-8 or set "
                    "ingest.encoding in clm.toml",
                    file=path.name,
                    line=exc.context.get("line"),
                ) from None
            raise
        return TextFile(path=dest, encoding=candidate, lines=_count_lines(dest, newlines))
    raise AssertionError("unreachable")  # pragma: no cover
