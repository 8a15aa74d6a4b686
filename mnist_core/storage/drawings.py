"""Named collections of labelled drawings on disk (PNG files and a labels file): save, list, score,
zip and clear; each collection owned by the browser that made it."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import re
import secrets
import shutil
import threading
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_core.folders import folder_setting, PROJECT_ROOT
from mnist_core.storage.files import locked, sweep_once, write_atomically
from mnist_core.storage.names import as_read, check_name, UnreadableName
from mnist_core.storage.owners import OwnerTags
from mnist_core.texts import N_, reason, worded, Words

COLLECTION_EXISTS = N_("a collection named '{name}' exists already; import under a new name")

LABELS = "labels.csv"
OWNER_FILE = ".owner"  # the OwnerTags hash of the browser that made the collection
CLASS_MARK = ".class"  # a class collection: only the operator may clear it, whoever made it
# zlib's default level: a 280x280 drawing in 4.3 ms and 10.5 kB; PIL's `optimize` took 35 ms for 9.9 kB, on the
# server at every student's Add (benchmarks/drawing_files.py).
PNG_LEVEL = 6
MAX_SIDE = 280  # pixels: a drawing is kept at most this big (the canvas's size), whatever was uploaded
NICKNAME = re.compile(r"^\w[\w .'-]{0,23}$")  # what a nickname may be (classroom.check_nickname says why)


@dataclass
class Drawing:
    file: str  # PNG file name inside the collection
    label: int
    image: np.ndarray  # as saved: RGBA or grey uint8
    owner: str = ""  # OwnerTags hash of the browser that added it ("" in collections made before, or imported)
    nickname: str = ""  # the name it was added under (class collections)


def find_drawings_dir(root: str | os.PathLike | None = None) -> Path:
    """`root` if given, else $MNIST_DRAWINGS, else `collections/` in the project."""
    return folder_setting(root, "MNIST_DRAWINGS", PROJECT_ROOT / "collections")


def bounded(image: np.ndarray) -> Image.Image:
    """The picture to keep: at most MAX_SIDE pixels a side (a 4000x3000 photo becomes 280x210); the
    app reads a digit from its ink box scaled into 20x20, so nothing it uses is lost."""
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)  # RGBA is resampled premultiplied
    return picture


# What an imported zip may hold: it comes from anywhere (hostile ones included).
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 5000
MAX_PNG_BYTES = 2 * 1024 * 1024  # one drawing's file, as read from the zip (its header's size is not trusted)
MAX_UNZIPPED = 200 * 1024 * 1024  # everything read from the zip
MAX_IMPORT_PIXELS = 4_000_000  # one picture, from its header, before it is decoded
MAX_IMPORT_TOTAL_PIXELS = MAX_ENTRIES * MAX_SIDE * MAX_SIDE  # all of them: as many canvas-sized drawings
FILE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.png$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise worded(ValueError, N_("{file}: larger than {limit} KB unpacked"), file=info.filename, limit=limit // 1024)
    return data


def _png(data: bytes, file: str, budget: int = MAX_IMPORT_PIXELS) -> tuple[Image.Image, int]:
    """A PNG file's picture, at most MAX_SIDE a side, and the pixels decoded to make it; ValueError for
    anything else, or more pixels than MAX_IMPORT_PIXELS or the `budget` left of the whole import's."""
    if not data.startswith(PNG_MAGIC):
        raise worded(ValueError, N_("{file}: not a PNG file"), file=file)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as picture:
                if picture.width * picture.height > MAX_IMPORT_PIXELS:
                    raise worded(ValueError, N_("{file}: {width}x{height} pixels is too large a drawing"), file=file,
                                 width=picture.width, height=picture.height)
                if picture.width * picture.height > budget:
                    raise worded(ValueError, N_("the zip's pictures hold more than {limit} pixels in all"),
                                 limit=MAX_IMPORT_TOTAL_PIXELS)
                picture.load()
                if picture.mode not in ("L", "LA", "RGB", "RGBA"):
                    picture = picture.convert("RGBA")
                return bounded(np.asarray(picture)), picture.width * picture.height
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise worded(ValueError, N_("{file}: a damaged PNG file ({reason})"), file=file, reason=str(e)) from None


def read_zip(data: bytes) -> list[tuple[str, int, Image.Image, str]]:
    """A collection's zip, checked: (file, label, picture, nickname) for each row of its labels.csv;
    ValueError (one line) for anything amiss."""
    return list(zip_rows(data))


def zip_rows(data: bytes) -> Iterator[tuple[str, int, Image.Image, str]]:
    """The rows of `read_zip` one at a time (an import writes each picture before decoding the next);
    ValueError (one line) at the first thing amiss. Paths in the zip are never used as paths: a row names
    a plain PNG file beside labels.csv."""
    if len(data) > MAX_ZIP_BYTES:
        raise worded(ValueError, N_("the zip is larger than {limit} MB"), limit=MAX_ZIP_BYTES // (1024 * 1024))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise worded(ValueError, N_("not a zip file")) from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise worded(ValueError, N_("the zip holds more than {limit} files"), limit=MAX_ENTRIES)
        found = [i for i in entries if i.filename.rsplit("/", 1)[-1] == LABELS]
        if len(found) != 1:
            raise worded(ValueError, N_("the zip must hold one {labels} (file name, digit on each line), it holds "
                                        "{count}"), labels=LABELS, count=len(found))
        folder = found[0].filename[:-len(LABELS)]
        beside = {i.filename[len(folder):]: i for i in entries if i.filename.startswith(folder)}
        try:
            # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark
            lines = _read_bounded(archive, found[0], MAX_PNG_BYTES).decode("utf-8-sig").splitlines()
            rows = [r for r in csv.reader(lines) if r]
        except (UnicodeDecodeError, csv.Error):
            raise worded(ValueError, N_("{labels} is not a CSV text file"), labels=LABELS) from None
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
            raise worded(ValueError, N_("the zip cannot be read ({reason})"), reason=str(e)) from None
        if not rows:
            raise worded(ValueError, N_("{labels} lists no drawings"), labels=LABELS)
        seen, total, pixels = set(), 0, 0
        for number, row in enumerate(rows, 1):
            digit = row[1].strip() if len(row) in (2, 4) else ""
            if len(digit) != 1 or digit not in "0123456789":
                raise worded(ValueError, N_("{labels} line {number}: expected 'file.png,digit', got {row}"),
                             labels=LABELS, number=number, row=repr(",".join(row)[:60]))
            file = row[0].strip()
            if not FILE_PATTERN.fullmatch(file) or file in seen:
                raise worded(ValueError, N_("{labels} line {number}: {file} is not a plain PNG file name, or listed "
                                            "twice"), labels=LABELS, number=number, file=repr(file[:60]))
            if file not in beside:
                raise worded(ValueError, N_("{labels} line {number}: {file} is not in the zip"), labels=LABELS,
                             number=number, file=file)
            seen.add(file)
            total += beside[file].file_size
            if total > MAX_UNZIPPED:
                raise worded(ValueError, N_("the zip unpacks to more than {limit} MB"),
                             limit=MAX_UNZIPPED // (1024 * 1024))
            try:
                picture, decoded = _png(_read_bounded(archive, beside[file], MAX_PNG_BYTES), file,
                                        MAX_IMPORT_TOTAL_PIXELS - pixels)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
                raise worded(ValueError, N_("{file}: cannot be read from the zip ({reason})"), file=file,
                             reason=str(e)) from None
            nickname = row[3].strip() if len(row) == 4 else ""
            pixels += decoded
            yield file, int(digit), picture, nickname if NICKNAME.fullmatch(nickname) else ""


# A drawing in a collection (the app keeps them at most MAX_SIDE a side; these bound what a hand put there).
MAX_STORED_PIXELS = MAX_IMPORT_PIXELS
MAX_STORED_SIDE = 4000


@dataclass(frozen=True)
class Problem:
    """A file of a collection that does not read, and why (its words kept for the reader's language)."""

    file: str
    why: Words | str

    def __str__(self) -> str:
        return f"{self.file}: {self.why}"


@dataclass
class Loaded:
    """A collection as read: the drawings that read, and a `Problem` for each file that did not."""

    drawings: list[Drawing]
    problems: list[Problem]


def _stored_picture(path: Path) -> np.ndarray:
    """A stored drawing's pixels; ValueError (one line) for a damaged file or one that would decode to more
    than MAX_STORED_PIXELS (a 15000x15000 or 1x25,000,000 PNG of a few KB), said from its header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=["PNG"]) as picture:
                if picture.width * picture.height > MAX_STORED_PIXELS or max(picture.size) > MAX_STORED_SIDE:
                    raise worded(ValueError, N_("{width}x{height} pixels is too large for a drawing"),
                                 width=picture.width, height=picture.height)
                picture.load()
                return np.asarray(picture)
    except Image.DecompressionBombError:
        raise worded(ValueError, N_("too large a picture for a drawing (a decompression bomb)")) from None
    except (OSError, SyntaxError) as e:  # the kind of damage PIL found, under its own (technical) name
        raise worded(ValueError, N_("a damaged picture ({kind})"), kind=type(e).__name__) from None


def append_row(path: Path, row: bytes) -> None:
    """Append one row to a labels file, synced and read back: a row that did not reach the disk whole (a full
    disk) is cut off again and an OSError raised, so no partial row ever counts as written, and the next row
    starts on a line of its own. Call it under the folder's lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            row = b"\n" + row  # a row cut short by a crash before: it stays a bad line of its own (skipped)
        try:
            if os.write(fd, row) != len(row):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            os.fsync(fd)
            if os.pread(fd, len(row), size) != row:
                raise OSError(errno.EIO, "the row read back is not the one written", str(path))
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _read_key(name: str) -> str:
    """A collection's name as people read it (storage/names.as_read); a folder made before that check, its
    plain casefold."""
    try:
        return as_read(name, "collection")
    except UnreadableName:
        return name.casefold()


def _good_row(row: list[str]) -> bool:
    """A labels row: a plain PNG name and a digit, then (optionally) who added it and their nickname."""
    return (len(row) in (2, 4) and Path(row[0]).name == row[0] and row[0].endswith(".png")
            and len(row[1]) == 1 and row[1] in "0123456789")


class Collections:
    """Each collection is a folder named by a plain name (never a path from the browser). A collection is
    its maker's: listed, read and written for that browser alone (and the operator); a class collection
    takes everyone's drawings (through ClassCollection.add) and only the operator may clear it."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = find_drawings_dir(root)
        self.owners = OwnerTags(self.root)
        self._indexes: dict[str, CollectionIndex] = {}
        self._index_lock = threading.Lock()
        sweep_once(self.root, depth=1)  # what killed writes left in it and its collections, at this process's start

    def _folder(self, name: str) -> Path:
        """The folder of collection `name`: the one of an existing collection whose name reads the same
        ("AMELIE" is "amelie", as model names are), so that a name in other letters is never a second
        collection beside another browser's (nor the same folder on a disk that ignores case)."""
        folder = self.root / check_name(name, "collection")
        if folder.is_dir() or not self.root.is_dir():
            return folder
        key = _read_key(folder.name)
        for other in self.root.iterdir():
            if not other.name.startswith(".") and _read_key(other.name) == key and other.is_dir():
                return other
        return folder

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        # Hidden folders are an import or a clear at work (or cut short): never a collection.
        # A class collection is one as soon as it is opened, before its first drawing.
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".")
                      and ((p / LABELS).is_file() or (p / CLASS_MARK).is_file()))

    def visible_names(self, owner: str, operator: bool = False) -> list[str]:
        """The collections this browser may list and read: class collections and its own (the operator: all)."""
        return [n for n in self.names() if operator or self.is_class(n) or self.owners.owns(owner, self.owner_of(n))]

    def may_use(self, name: str, owner: str, operator: bool = False) -> bool:
        """Whether this browser may read and save into `name` itself (not through the class panel): a new
        name, a collection nobody owns, or its own; never a class collection nor another browser's."""
        if operator:
            return True
        folder = self._folder(name)
        if not folder.is_dir():
            return True
        if self.is_class(name):
            return False
        made_by = self.owner_of(name)
        return not made_by or self.owners.owns(owner, made_by)

    def owner_of(self, name: str) -> str:
        try:
            return (self._folder(name) / OWNER_FILE).read_text().strip()
        except OSError:
            return ""

    def names_of(self, owner: str) -> list[str]:
        """The collections this owner made."""
        return [n for n in self.names() if self.owners.owns(owner, self.owner_of(n))]

    def default_name(self, owner: str) -> str:
        """What the Draw page offers: this owner's first collection, else a new name of its own (never
        another browser's collection)."""
        mine = self.names_of(owner)
        if mine:
            return mine[0]
        try:
            return f"digits-{self.owners.tag(owner)[:6]}" if owner else "my-digits"
        except OSError:  # a folder where no secret can be made: nothing can be saved there either
            return "my-digits"

    def is_class(self, name: str) -> bool:
        """Whether the collection was ever opened for a class (then only the operator may clear it)."""
        return (self._folder(name) / CLASS_MARK).exists()

    def mark_class(self, name: str) -> None:
        """Make the collection (if new) a class collection: nobody but the operator may clear it, not even
        a student who saved into that name before the teacher opened it."""
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / CLASS_MARK).exists():
            write_atomically(folder / CLASS_MARK, lambda f: f.write(b"1"))

    def may_clear(self, name: str, owner: str, operator: bool = False) -> bool:
        if operator:
            return True
        return not self.is_class(name) and self.owners.owns(owner, self.owner_of(name))

    def claim(self, name: str, owner: str) -> None:
        """Make the collection's folder, and `owner` its owner unless it has one already (the first claim
        wins)."""
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        if owner and not (folder / OWNER_FILE).exists():
            tag = self.owners.tag(owner)
            try:
                write_atomically(folder / OWNER_FILE, lambda f: f.write(tag.encode()), overwrite=False)
            except FileExistsError:
                pass  # another browser made it a moment before: theirs

    def add(self, name: str, image: np.ndarray, label: int, owner: str = "", nickname: str = "",
            shared: bool = False, operator: bool = False) -> str:
        """Save one drawing with its true digit; returns the file name. The first drawing makes the
        collection, owned by `owner`; the drawing's row keeps who added it (a tag) and `nickname`. Another
        browser's collection, or a class one, is refused (ValueError) unless `shared` (the class collection's
        add, which checks the rest) or `operator`. The PNG is written whole or not at all (a full disk leaves
        no empty file); raises OSError when the folder cannot be written."""
        if not 0 <= int(label) <= 9:
            raise worded(ValueError, N_("a label is a digit 0-9, got {label}"), label=label)
        if not shared and not self.may_use(name, owner, operator):
            raise worded(ValueError, N_("'{name}' is another browser's collection (or the class's): save into your "
                                        "own"), name=name)
        folder = self._folder(name)
        self.claim(name, owner)
        file = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}-{int(label)}.png"
        picture = bounded(image)
        write_atomically(folder / file, lambda f: picture.save(f, format="PNG", compress_level=PNG_LEVEL))
        row = io.StringIO()
        csv.writer(row).writerow([file, int(label)] + ([self.owners.tag(owner), nickname] if owner else []))
        try:
            with locked(folder):
                append_row(folder / LABELS, row.getvalue().encode())
        except OSError:
            (folder / file).unlink(missing_ok=True)
            raise
        return file

    def version(self, name: str) -> tuple[int, int]:
        """Changes whenever a drawing is added or the collection cleared (its labels file's time, size)."""
        labels = self._folder(name) / LABELS
        if not labels.is_file():
            return (0, 0)
        stat = labels.stat()
        return (stat.st_mtime_ns, stat.st_size)

    def load(self, name: str) -> list[Drawing]:
        """The collection's drawings; a file that cannot be read is left out (`read` says which and why)."""
        return self.read(name).drawings

    def read(self, name: str, known: dict[tuple[str, ...], Drawing | Problem] | None = None) -> Loaded:
        """Every drawing that reads, and a `Problem` for each file that does not (damaged, or a picture no
        drawing of this app is: more than MAX_STORED_PIXELS, checked from its header before it is decoded).
        One bad file never hides the others. `known` (a labels row -> its Drawing, or its Problem) is
        what an earlier read found: those rows are not decoded again (a drawing's file never changes; its
        name is unique), and rows no longer listed are dropped from it (`CollectionIndex`)."""
        folder = self._folder(name)
        loaded = Loaded([], [])
        known = {} if known is None else known
        if not (folder / LABELS).is_file():
            known.clear()
            return loaded
        listed = set()
        with open(folder / LABELS, newline="", errors="replace") as f:
            for row in csv.reader(f):
                if not _good_row(row) or not (folder / row[0]).is_file():
                    continue  # a line cut short, or a file gone: skipped, the rest still counts
                key = tuple(row)
                listed.add(key)
                if key not in known:
                    try:
                        known[key] = Drawing(row[0], int(row[1]), _stored_picture(folder / row[0]), *row[2:4])
                    except ValueError as e:
                        known[key] = Problem(row[0], reason(e))
                found = known[key]
                (loaded.problems if isinstance(found, Problem) else loaded.drawings).append(found)
        for key in [k for k in known if k not in listed]:  # removed, or the collection cleared
            del known[key]
        return loaded

    def index(self, name: str) -> CollectionIndex:
        """The one incremental reader of a collection in this process (`CollectionIndex`)."""
        name = self._folder(name).name  # one reader for the names that read the same
        with self._index_lock:
            if name not in self._indexes:
                self._indexes[name] = CollectionIndex(self, name)
            return self._indexes[name]

    def remove(self, name: str, file: str, owner: str = "", operator: bool = False) -> None:
        """Delete one drawing: only the browser that added it (or the operator) may (ValueError otherwise).
        The labels file is replaced whole, then the PNG removed: a crash leaves at most an unlisted file."""
        folder = self._folder(name)
        with locked(folder):
            try:
                with open(folder / LABELS, newline="") as f:
                    rows = list(csv.reader(f))
            except FileNotFoundError:
                rows = []
            mine = [r for r in rows if _good_row(r) and r[0] == file]
            if not mine:
                raise worded(ValueError, N_("no drawing '{file}' in the collection '{name}'"), file=file, name=name)
            tag = mine[0][2] if len(mine[0]) == 4 else ""
            if not (operator or self.owners.owns(owner, tag)):
                raise worded(ValueError, N_("that drawing is not yours: only the browser that added it may remove it"))
            kept = io.StringIO()
            csv.writer(kept).writerows(r for r in rows if not (r and r[0] == file))
            write_atomically(folder / LABELS, lambda f: f.write(kept.getvalue().encode()))
        (folder / file).unlink(missing_ok=True)

    def zip_bytes(self, name: str) -> bytes:
        """The collection as a zip: its PNG files and labels.csv (file, label and, for a class collection,
        an empty owner column and the nickname: who added a drawing is this server's secret)."""
        folder = self._folder(name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            drawings = self.load(name)
            for d in drawings:
                archive.write(folder / d.file, f"{name}/{d.file}")
            rows = io.StringIO()
            csv.writer(rows).writerows([d.file, d.label] + (["", d.nickname] if d.nickname else []) for d in drawings)
            archive.writestr(f"{name}/{LABELS}", rows.getvalue())
        return buffer.getvalue()

    def import_zip(self, name: str, data: bytes, owner: str = "", nickname: str | None = None) -> int:
        """A zip of PNGs and a labels.csv (as `zip_bytes` makes) made into the new collection `name`, owned by
        `owner`; returns how many drawings it holds. `nickname`: who every drawing is by (a student's import
        is theirs: a zip's own column would let one student sign drawings as anyone); None keeps the zip's
        (the teacher's export of a class, brought back). Each row is checked as it is read (sizes, names, PNG
        files, pixels: ValueError, one line) and written into a hidden folder, which becomes the collection
        only once all of them passed (else it is removed): a collection appears whole or not at all."""
        folder = self._folder(name)
        if folder.exists():
            raise worded(ValueError, COLLECTION_EXISTS, name=name)
        rows = zip_rows(data)  # checked as they come; the folder appears only once all are written
        building = self.root / f".{name}.import-{secrets.token_hex(3)}"
        kept: list[tuple[str, int, str]] = []
        try:
            for file, label, picture, signed in rows:
                if not kept:  # the first row passed its checks: only now is anything written
                    building.mkdir(parents=True)
                write_atomically(building / file,
                                 lambda f, p=picture: p.save(f, format="PNG", compress_level=PNG_LEVEL))
                kept.append((file, label, signed if nickname is None else nickname))
            tag = self.owners.tag(owner) if owner else ""  # (its first use makes the folder's secret)
            labels = io.StringIO()
            csv.writer(labels).writerows([file, label] + ([tag, by] if tag else []) for file, label, by in kept)
            write_atomically(building / LABELS, lambda f: f.write(labels.getvalue().encode()))
            if tag:
                write_atomically(building / OWNER_FILE, lambda f: f.write(tag.encode()))
            building.rename(folder)  # the whole collection at once (fails if the name was taken meanwhile)
        except OSError as e:
            shutil.rmtree(building, ignore_errors=True)
            if folder.exists():
                raise worded(ValueError, COLLECTION_EXISTS, name=name) from e
            raise
        except BaseException:  # a row refused (ValueError) or the server stopping: nothing is left behind
            shutil.rmtree(building, ignore_errors=True)
            raise
        return len(kept)

    def clear(self, name: str, owner: str = "", operator: bool = False) -> None:
        """Delete a collection: only its maker (or the operator) may (ValueError otherwise)."""
        folder = self._folder(name)
        if not folder.is_dir():
            return
        if not self.may_clear(name, owner, operator):
            raise worded(ValueError, N_("the collection '{name}' is not yours: only the browser that made it may "
                                        "clear it"), name=name)
        gone = folder.with_name(f".{name}.cleared-{secrets.token_hex(3)}")
        folder.rename(gone)  # gone for every reader at once; then removed
        shutil.rmtree(gone, ignore_errors=True)


class CollectionIndex:
    """A collection read incrementally, for a server that shows it as it grows: each read after the first
    decodes only the drawings added since (an add costs one drawing, not the whole collection), and every
    version shares the same Drawing objects (no copy of 3,000 pictures per version). Reads are serialised;
    `read` returns the collection as of its labels file's version."""

    def __init__(self, collections: Collections, name: str) -> None:
        self.collections = collections
        self.name = name
        self._known: dict[tuple[str, ...], Drawing | Problem] = {}
        self._lock = threading.Lock()
        self._last: tuple[tuple[int, int], Loaded] | None = None

    def read(self) -> Loaded:
        """The drawings and the problem lines, as `Collections.read` gives them; the same Loaded while the
        collection's version (its labels file's time and size) has not changed."""
        with self._lock:
            version = self.collections.version(self.name)
            if self._last is not None and self._last[0] == version and version != (0, 0):
                return self._last[1]
            loaded = self.collections.read(self.name, self._known)
            self._last = (version, loaded)
            return loaded
