"""Shared reading machinery: decoding with clear errors, records, dialogue validation."""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from pydantic import ValidationError

from analyzer.schema import Dialogue

HEAD_BYTES = 65536


class InputError(ValueError):
    """Bad input: the message names the file, the place and the problem, in one line."""


@dataclass
class Record:
    location: str
    dialogue: Optional[Dialogue] = None
    error: Optional[str] = None


@dataclass
class Source:
    """A decoded input: a name for messages, the first characters for sniffing, and a line iterator."""
    name: str
    head: str
    _path: Optional[Path]
    _data: Optional[bytes]
    encoding: str

    def lines(self) -> Iterator[str]:
        """Decoded lines (without line endings), streamed from disk for files."""
        stream = open(self._path, "rb") if self._path is not None else io.BytesIO(self._data)
        with stream:
            for number, raw in enumerate(stream, start=1):
                text = decode(raw, self.encoding, f"{self.name}:{number}").rstrip("\r\n")
                yield text.lstrip("\ufeff") if number == 1 else text

    def text(self) -> str:
        return "\n".join(self.lines())


def decode(raw: bytes, encoding: str, where: str) -> str:
    if b"\x00" in raw:
        raise InputError(f"{where}: binary data (NUL bytes); expected a UTF-8 text transcript")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
            try:
                raw.decode("gbk")
                raise InputError(f"{where}: not UTF-8; it looks GBK-encoded: convert it or pass --encoding gbk") from None
            except UnicodeDecodeError:
                pass
        raise InputError(f"{where}: cannot be decoded as {encoding}; is it a text transcript?") from None
    return text


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return len(head) > 0 and control / len(head) > 0.05


def source_from_bytes(data: bytes, name: str, encoding: Optional[str] = None) -> Source:
    return _checked(name, data[:HEAD_BYTES], None, data, encoding or "utf-8")


def open_source(path: str | Path, encoding: Optional[str] = None) -> Source:
    """Open a path (or '-' for standard input) and check it is non-empty, text, and decodable."""
    encoding = encoding or "utf-8"
    if str(path) == "-":
        return source_from_bytes(sys.stdin.buffer.read(), "<stdin>", encoding)
    file_path = Path(path)
    name = str(path)
    if not file_path.exists():
        raise InputError(f"{name}: no such file")
    if file_path.is_dir():
        raise InputError(f"{name}: is a folder, not a transcript file")
    with open(file_path, "rb") as fh:
        head_bytes = fh.read(HEAD_BYTES)
    return _checked(name, head_bytes, file_path, None, encoding)


def _checked(name: str, head_bytes: bytes, file_path: Optional[Path], data: Optional[bytes], encoding: str) -> Source:
    if not head_bytes.strip():
        raise InputError(f"{name}: empty file")
    if _looks_binary(head_bytes):
        raise InputError(f"{name}: binary data, not a text transcript")
    # decode the head leniently at a character boundary; full decoding (with errors) happens per line
    try:
        head = head_bytes.decode(encoding)
    except LookupError:
        raise InputError(f"{name}: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as err:
        if err.start < len(head_bytes) - 4:  # not just a character cut at the end of the head
            line = head_bytes[:err.start].count(b"\n") + 1
            decode(head_bytes.split(b"\n")[line - 1], encoding, f"{name}:{line}")
        head = head_bytes[:err.start].decode(encoding)
    return Source(name=name, head=head.lstrip("\ufeff"), _path=file_path, _data=data, encoding=encoding)


def summarize_validation(err: ValidationError) -> str:
    """One line from a pydantic error: 'turns.2.text: Field required'."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "dialogue"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {message}{more}"


def to_record(obj, location: str, default_id: str) -> Record:
    """Validate one parsed object as a Dialogue; never raises."""
    if not isinstance(obj, dict):
        return Record(location, error=f"{location}: expected a JSON object for a dialogue, got {type(obj).__name__}")
    obj = dict(obj)
    obj.setdefault("id", default_id)
    if not obj.get("turns") and "turns" in obj:
        return Record(location, error=f"{location}: dialogue {obj.get('id')!r} has no turns")
    if "turns" not in obj:
        return Record(location, error=f"{location}: dialogue {obj.get('id')!r} has no 'turns' field")
    try:
        dialogue = Dialogue.model_validate(obj)
    except ValidationError as err:
        return Record(location, error=f"{location}: dialogue {obj.get('id')!r}: {summarize_validation(err)}")
    for index, turn in enumerate(dialogue.turns):
        if not turn.text.strip():
            return Record(location, error=f"{location}: dialogue {dialogue.id!r}: turn {index} has empty text")
    return Record(location, dialogue=dialogue)
