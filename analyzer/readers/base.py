"""Shared reading machinery: decoding with clear errors, records, dialogue validation."""
from __future__ import annotations

import codecs
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from pydantic import ValidationError

from analyzer.schema import Dialogue, Turn

HEAD_BYTES = 65536
TURN_FIELDS = frozenset(Turn.model_fields)
DIALOGUE_FIELDS = frozenset(Dialogue.model_fields)
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class InputError(ValueError):
    """Bad input: the message names the file, the place and the problem, in one line."""


@dataclass
class Record:
    location: str
    dialogue: Optional[Dialogue] = None
    error: Optional[str] = None
    notices: list[str] = field(default_factory=list)  # what was fixed on the way (dropped empty turns), one line each


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
            if _wide(self.encoding):  # UTF-16/32: bytes cannot be split at b"\n"; decode the stream as a whole
                yield from self._wide_lines(stream)
                return
            number = 0
            for raw in stream:
                text = decode(raw, self.encoding, f"{self.name}:{number + 1}").rstrip("\r\n")
                for part in text.split("\r"):  # a bare CR ends a line too (old Mac files, Excel for Mac)
                    number += 1
                    yield part.lstrip("\ufeff") if number == 1 else part

    def _wide_lines(self, stream) -> Iterator[str]:
        number = 0
        try:
            for number, text in enumerate(io.TextIOWrapper(stream, encoding=self.encoding, newline=None), start=1):
                yield text.rstrip("\n").lstrip("\ufeff") if number == 1 else text.rstrip("\n")
        except UnicodeError:  # also "UTF-16 stream does not start with BOM"
            raise InputError(f"{self.name}: cannot be decoded as {self.encoding} (after line {number})") from None

    def text(self) -> str:
        return "\n".join(self.lines())


def one_line(message: str) -> str:
    """The message with line breaks escaped, so that an error is always one line."""
    return LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], message)


def short(value, limit: int = 60) -> str:
    """repr() of a value from the input, cut to a length fit for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _wide(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


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
    return _checked(name, data[:HEAD_BYTES], None, data, encoding)


def open_source(path: str | Path, encoding: Optional[str] = None) -> Source:
    """Open a path (or '-' for standard input) and check it is non-empty, text, and decodable."""
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


def _checked(name: str, head_bytes: bytes, file_path: Optional[Path], data: Optional[bytes],
             encoding: Optional[str]) -> Source:
    if encoding is None:  # a byte-order mark names the encoding (Notepad's and Excel's "Unicode" files are UTF-16)
        encoding = next((enc for bom, enc in BOMS if head_bytes.startswith(bom)), "utf-8")
    try:
        "".encode(encoding)
    except LookupError:
        raise InputError(f"{name}: unknown encoding {encoding!r}") from None
    wide = _wide(encoding)
    probe = head_bytes.decode(encoding, "replace").encode("utf-8") if wide else head_bytes  # checked as 8-bit text
    if not probe.removeprefix(codecs.BOM_UTF8).strip():
        raise InputError(f"{name}: empty file")
    if _looks_binary(probe):
        bom = next((enc for bom, enc in BOMS if head_bytes.startswith(bom)), None)
        if bom and not wide:
            raise InputError(f"{name}: {bom.upper()}-encoded (it starts with a byte-order mark), not {encoding}: "
                             f"pass --encoding {bom} or leave --encoding out")
        raise InputError(f"{name}: binary data, not a text transcript")
    # decode the head leniently at a character boundary; full decoding (with errors) happens per line
    try:
        head = head_bytes.decode(encoding)
    except UnicodeError as err:
        if not isinstance(err, UnicodeDecodeError):
            raise InputError(f"{name}: cannot be decoded as {encoding}") from None
        if err.start < len(head_bytes) - 4:  # not just a character cut at the end of the head
            if wide:
                raise InputError(f"{name}: cannot be decoded as {encoding}") from None
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
    return one_line(f"{where}: {message}{more}")


def unicode_error(obj, raw: str) -> Optional[str]:
    """A complaint when parsed JSON holds a lone surrogate (a `\\ud800` escape), which no output could encode."""
    if not SURROGATE_ESCAPE.search(raw):
        return None
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "invalid Unicode: a \\u escape of a lone surrogate (half of a character)"
    return None


def _is_empty_turn(turn) -> bool:
    return isinstance(turn, dict) and isinstance(turn.get("text"), str) and not turn["text"].strip()


def _turn_index(key) -> Optional[int]:
    if isinstance(key, int):
        return key
    return int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else None


def _renumbered(turn_fields: dict, kept: list[int]) -> dict:
    """meta["turn_fields"] as read (e.g. from a file this project wrote), renumbered after dropped turns."""
    position = {old: new for new, old in enumerate(kept)}
    out = {}
    for key, value in turn_fields.items():
        index = _turn_index(key)
        if index is None:
            out[key] = value
        elif index in position:
            out[position[index]] = value
    return out


def _keep_unknown_fields(obj: dict, kept: list[int]) -> dict:
    """Move fields the schema does not know into `meta`, so that they are kept rather than rejected.

    Dialogue-level fields go into meta as they are (a key already in meta wins); turn-level fields go into the
    turn's own meta where Turn has one, else into meta["turn_fields"][turn index] (counted after dropped turns;
    `kept` lists the original indexes of the turns kept).
    """
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        return obj  # validation reports it
    meta = dict(meta)
    for key in [k for k in obj if k not in DIALOGUE_FIELDS]:
        meta.setdefault(key, obj.pop(key))
    turn_fields = _renumbered(meta["turn_fields"], kept) if isinstance(meta.get("turn_fields"), dict) else {}
    turns = []
    for index, turn in enumerate(obj["turns"]):
        extra = {k: v for k, v in turn.items() if k not in TURN_FIELDS} if isinstance(turn, dict) else {}
        if extra:
            turn = {k: v for k, v in turn.items() if k in TURN_FIELDS}
            if "meta" in TURN_FIELDS and isinstance(turn.get("meta", {}), dict):
                turn["meta"] = {**extra, **turn.get("meta", {})}
            else:
                previous = turn_fields.get(index)
                turn_fields[index] = {**previous, **extra} if isinstance(previous, dict) else extra
        turns.append(turn)
    if turn_fields:
        meta["turn_fields"] = turn_fields
    return {**obj, "turns": turns, "meta": meta}


def to_record(obj, location: str, default_id: str) -> Record:
    """Validate one parsed object as a Dialogue; never raises.

    Empty turns (silence in ASR output) are dropped with a notice; fields the schema does not know are kept in
    `meta` (see _keep_unknown_fields).
    """
    if not isinstance(obj, dict):
        return Record(location, error=f"{location}: expected a JSON object for a dialogue, got {type(obj).__name__}")
    obj = dict(obj)
    obj.setdefault("id", default_id)
    name = short(obj.get("id"))
    if "turns" not in obj:
        return Record(location, error=f"{location}: dialogue {name} has no 'turns' field")
    if not obj["turns"]:
        return Record(location, error=f"{location}: dialogue {name} has no turns")
    notices = []
    if isinstance(obj["turns"], list):
        kept = [index for index, turn in enumerate(obj["turns"]) if not _is_empty_turn(turn)]
        dropped = len(obj["turns"]) - len(kept)
        if not kept:
            return Record(location, error=f"{location}: dialogue {name} has no turn with text ({dropped} empty)")
        if dropped:
            notices.append(f"{location}: dialogue {name}: dropped {dropped} empty turn(s)")
            obj["turns"] = [obj["turns"][index] for index in kept]
        obj = _keep_unknown_fields(obj, kept)
    try:
        dialogue = Dialogue.model_validate(obj)
    except ValidationError as err:
        return Record(location, error=f"{location}: dialogue {name}: {summarize_validation(err)}")
    return Record(location, dialogue=dialogue, notices=notices)
