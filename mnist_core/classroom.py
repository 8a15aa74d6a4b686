"""The class's handwriting: nicknames (by owner tag), which collection is the open class collection, its
reproducible split into a part to learn from and a held-out part, and scoring a model on drawings."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from torch import nn

from .drawings import Collections, Drawing, NICKNAME
from .evaluate import evaluate, Evaluation
from .folders import locked
from .preprocess import mnist_style
from .store import check_name, find_store_dir, OwnerTags, StoreError, write_atomically
from .train import ExtraExamples, TrainConfig

NICKNAMES = "nicknames.json"  # in the model store's folder: {owner tag: nickname}
CLASS_FILE = "class.json"  # in the drawings folder: {"name": the open class collection}
HELD_OUT_SHARE = 0.2
# Who a leaderboard row is by when no nickname says: labels no student's nickname may take.
SHIPPED, COMMAND_LINE, NO_NICKNAME = "shipped with the app", "command line", "(no nickname)"
RESERVED_NICKNAMES = {SHIPPED, COMMAND_LINE, NO_NICKNAME, NO_NICKNAME.strip("()")}
# Train more on our handwriting: a few epochs at an eighth of the model's learning rate, decaying to 0,
# the class's drawings taking EXTRA_SHARE of each epoch's places, each copy deformed afresh.
FINE_TUNE_EPOCHS = 2
EXTRA_SHARE = 0.1
EXTRA_AUGMENT = 0.6


class ClassError(ValueError):
    """A class action refused (no class collection open, a bad nickname, blank drawing): one line."""


def check_nickname(nickname: str) -> str:
    """A nickname as kept: stripped; 1-24 letters, digits, spaces, '.', ''', '_' or '-' (ClassError otherwise)."""
    name = nickname.strip() if isinstance(nickname, str) else ""
    if not NICKNAME.fullmatch(name) or name != " ".join(name.split()):
        raise ClassError("a nickname is 1-24 letters or digits (spaces, '.', ''', '_' and '-' inside), "
                         f"got {nickname!r}")
    if name.casefold() in RESERVED_NICKNAMES:
        raise ClassError(f"'{name}' is what the app calls models nobody nicknamed: choose another nickname")
    return name


def _read_json(path: Path) -> dict:
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: as if empty (a damaged file is replaced at the next write)
    return values if isinstance(values, dict) else {}


def _write_json(path: Path, values: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: f.write(json.dumps(values, ensure_ascii=False, indent=1).encode()))


class Nicknames:
    """A nickname per browser, keyed by its owner tag in the model store (`ModelStore.owners`), so a
    model's `meta.owner` finds its trainer's nickname; the file never holds an owner key."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = find_store_dir(root)
        self.owners = OwnerTags(self.root)
        self.path = self.root / NICKNAMES

    def tag_of(self, owner_key: str) -> str:
        """The tag a browser's key has in this folder (the one its models carry)."""
        return self.owners.tag(owner_key)

    def all(self) -> dict[str, str]:
        """Every nickname, by owner tag."""
        return {k: v for k, v in _read_json(self.path).items() if isinstance(k, str) and isinstance(v, str)}

    def get(self, tag: str) -> str | None:
        return self.all().get(tag) if tag else None

    def set(self, tag: str, nickname: str) -> str:
        """Give this tag a nickname (checked; returns it as kept). Two browsers may share one nickname:
        nobody's name is theirs alone, and refusing would tell one user another's is taken."""
        if not tag:
            raise ClassError("this browser has no identity yet; reload the page")
        nickname = check_nickname(nickname)
        with locked(self.root):  # the teacher's server and the students' may share the folder
            values = self.all()
            values[tag] = nickname
            _write_json(self.path, values)
        return nickname


class Classroom:
    """Which drawing collection is the open class collection (one at a time; the operator opens and
    closes it), kept in the drawings folder so every server on that folder sees the same one."""

    def __init__(self, collections: Collections | None = None) -> None:
        self.collections = collections or Collections()
        self.path = self.collections.root / CLASS_FILE

    def open_name(self) -> str | None:
        """The open class collection's name, or None."""
        name = _read_json(self.path).get("name")
        try:
            return check_name(name) if isinstance(name, str) else None
        except StoreError:
            return None

    def open(self, name: str, owner: str = "") -> str:
        """Open `name` (new or existing) as the class collection; a new one is owned by `owner` (the
        operator's browser), so no student who adds the first drawing may clear it."""
        self.collections.claim(name, owner)  # a plain name, or ValueError
        self.collections.mark_class(name)
        with locked(self.collections.root):
            _write_json(self.path, {"name": name})
        return name

    def close(self) -> None:
        """No class collection open: students can add no more (its drawings stay)."""
        with locked(self.collections.root):
            self.path.unlink(missing_ok=True)

    def add(self, image: np.ndarray | None, label: int | None, owner: str, nickname: str | None) -> str:
        """A student's labelled drawing added to the open class collection under their nickname; returns
        its file name. ClassError (one line) when no collection is open, the student has no nickname, the
        digit meant is not said, or the drawing is blank; OSError when the folder cannot be written."""
        name = self.open_name()
        if name is None:
            raise ClassError("no class collection is open: the teacher opens one on the Class page")
        if not nickname:
            raise ClassError("choose a nickname first (in the sidebar): your drawings are shown under it")
        if label is None:
            raise ClassError("say which digit you meant before adding the drawing")
        if image is None or mnist_style(image).blank:
            raise ClassError("the drawing is blank: draw a digit first")
        nickname = check_nickname(nickname)
        self.collections.mark_class(name)  # again: the teacher may have cleared it since it was opened
        return self.collections.add(name, image, int(label), owner=owner, nickname=nickname)


@dataclass
class Tally:
    """How a collection has grown: drawings per digit (10,) and per nickname (most first)."""

    per_digit: list[int]
    per_nickname: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_digit)


def tally(drawings: list[Drawing]) -> Tally:
    per_digit = [0] * 10
    per_nickname: dict[str, int] = {}
    for d in drawings:
        per_digit[d.label] += 1
        who = d.nickname or NO_NICKNAME
        per_nickname[who] = per_nickname.get(who, 0) + 1
    return Tally(per_digit, dict(sorted(per_nickname.items(), key=lambda item: (-item[1], item[0]))))


def held_out(file: str, share: float = HELD_OUT_SHARE) -> bool:
    """Whether a drawing is in the held-out part: from a hash of its file name alone, so the split is the
    same on every machine and a drawing never changes part as the collection grows."""
    value = int.from_bytes(hashlib.sha256(file.encode()).digest()[:8], "big") / 2**64
    return value < share


def split(drawings: list[Drawing], held_out_share: float = HELD_OUT_SHARE) -> tuple[list[Drawing], list[Drawing]]:
    """(learn, held_out): the drawings to train on and the ones kept for scoring."""
    if not 0.0 <= held_out_share <= 1.0:
        raise ValueError(f"the held-out share must be in [0, 1], got {held_out_share}")
    learn = [d for d in drawings if not held_out(d.file, held_out_share)]
    kept = [d for d in drawings if held_out(d.file, held_out_share)]
    return learn, kept


@dataclass
class Examples:
    """Drawings as the network sees them: images float32 (N, 28, 28) in [0, 1], labels int64 (N,), and
    the file each came from (blank drawings are left out)."""

    images: np.ndarray
    labels: np.ndarray
    files: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def examples(drawings: list[Drawing], seen: dict[str, np.ndarray | None] | None = None) -> Examples:
    """Each drawing made MNIST-style, as the Draw page reads it. `seen` (file -> (28, 28) output, None when
    blank) keeps each drawing's reading for the next call: a drawing's file never changes."""
    seen = {} if seen is None else seen
    for d in drawings:
        if d.file not in seen:
            steps = mnist_style(d.image)
            seen[d.file] = None if steps.blank else steps.output.astype(np.float32)
    kept = [d for d in drawings if seen[d.file] is not None]
    images = np.stack([seen[d.file] for d in kept]) if kept else np.zeros((0, 28, 28), np.float32)
    return Examples(images, np.array([d.label for d in kept], np.int64), [d.file for d in kept])


def score(model: nn.Module, drawings: list[Drawing] | Examples) -> Evaluation:
    """A model's scores on drawings (accuracy, confusion, mistakes; indices refer to `examples(drawings)`)."""
    data = drawings if isinstance(drawings, Examples) else examples(drawings)
    if not len(data):
        raise ClassError("no drawings to score yet")
    return evaluate(model, data.images, data.labels)


def fine_tune_config(base: TrainConfig | dict, epochs: int = FINE_TUNE_EPOCHS, device: str = "auto") -> TrainConfig:
    """The settings of Train more on our handwriting, from the settings the model was trained with."""
    config = base if isinstance(base, TrainConfig) else TrainConfig.from_dict(base)
    return replace(config, epochs=epochs, lr=config.lr / 8, schedule="cosine", device=device)


def class_extra(learn: list[Drawing] | Examples, source: str = "", share: float = EXTRA_SHARE,
                strength: float = EXTRA_AUGMENT) -> ExtraExamples:
    """A collection's learning part as the examples a run mixes into MNIST (ClassError when it has none)."""
    data = learn if isinstance(learn, Examples) else examples(learn)
    if not len(data):
        raise ClassError("the collection has no drawings to learn from yet")
    return ExtraExamples(data.images, data.labels, share, strength, source)


# --- Simulated classes (benchmarks and tests): students who each draw in a style of their own -------------
QUIRKS = {  # habits a school teaches that MNIST's American writers rarely had, with how common each is
    "flag1": 0.8,  # a 1 with a long up-stroke (continental)
    "base1": 0.3,  # a 1 standing on a bar
    "crossed7": 0.7,  # a 7 crossed in the middle
    "slashed0": 0.2,  # a 0 struck through
}


@dataclass(frozen=True)
class Style:
    """One simulated student's handwriting, the same in every digit they draw."""

    slant: float  # shear: > 0 leans right
    aspect: float  # width factor: < 1 narrow, > 1 wide
    rotation: float  # radians
    pen: int  # extra stroke radius, pixels of a 112-pixel digit
    size: float  # the digit's share of the canvas side
    wobble: float  # amplitude of the student's own smooth distortion, pixels of 28
    seed: int  # of that distortion
    quirks: frozenset[str]


def student_style(rng: np.random.Generator) -> Style:
    """A random student: narrow or wide hands, most slanting right, some pens fat; each with habits."""
    aspect = rng.uniform(0.65, 0.85) if rng.random() < 0.5 else rng.uniform(1.1, 1.35)
    return Style(slant=float(rng.uniform(-0.2, 0.5)), aspect=float(aspect), rotation=float(rng.uniform(-0.12, 0.12)),
                 pen=int(rng.integers(0, 4)), size=float(rng.uniform(0.35, 0.9)), wobble=float(rng.uniform(0.5, 1.5)),
                 seed=int(rng.integers(2**31)), quirks=frozenset(q for q, p in QUIRKS.items() if rng.random() < p))


def _add_quirks(big: np.ndarray, label: int, quirks: frozenset[str]) -> np.ndarray:
    """Strokes a habit adds, drawn on a (112, 112) digit in [0, 1]."""
    from PIL import Image, ImageDraw

    rows, cols = np.nonzero(big > 0.5)
    if not len(rows):
        return big
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    picture = Image.fromarray((big * 255).astype(np.uint8))
    pen = ImageDraw.Draw(picture)
    if label == 1 and "flag1" in quirks:
        c = int(cols[rows < top + 6].mean())
        pen.line([(c, top), (c - 26, top + 30)], fill=255, width=9)
    if label == 1 and "base1" in quirks:
        c = int(cols[rows > bottom - 6].mean())
        pen.line([(c - 20, bottom), (c + 20, bottom)], fill=255, width=9)
    if label == 7 and "crossed7" in quirks:
        r = int(top + 0.55 * (bottom - top))
        ink = np.nonzero(big[r] > 0.5)[0]
        c = int(ink.mean()) if len(ink) else (left + right) // 2
        pen.line([(c - 18, r), (c + 18, r)], fill=255, width=9)
    if label == 0 and "slashed0" in quirks:
        pen.line([(right - 4, top + 4), (left + 4, bottom - 4)], fill=255, width=9)
    return np.asarray(picture, np.float32) / 255


def student_drawing(digit: np.ndarray, label: int, style: Style, rng: np.random.Generator,
                    canvas: int = 280) -> np.ndarray:
    """An MNIST digit (28, 28) uint8 as this student draws it: an RGBA canvas (canvas, canvas, 4) like
    the Draw page's, with the student's habits, slant, aspect, pen and own distortion, and a little
    variation of their own from drawing to drawing."""
    from PIL import Image
    from scipy import ndimage

    from .preprocess import disk

    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.BILINEAR), np.float32) / 255
    big = _add_quirks(big, label, style.quirks)
    # Output pixel (y, x) samples the input at centre + A @ (y - c, x - c): slant, aspect, rotation.
    angle = style.rotation + rng.uniform(-0.05, 0.05)
    cos, sin = np.cos(angle), np.sin(angle)
    shape = np.array([[1.0, 0.0], [-style.slant, 1.0 / (style.aspect * rng.uniform(0.95, 1.05))]])
    matrix = np.array([[cos, -sin], [sin, cos]]) @ shape
    yy, xx = np.mgrid[0:112, 0:112].astype(np.float32) - 56
    field = np.random.default_rng(style.seed).normal(size=(2, 112, 112))
    field = ndimage.gaussian_filter(field, (0, 14, 14))
    field *= style.wobble * 4 / (np.abs(field).max() + 1e-9)
    ys = matrix[0, 0] * yy + matrix[0, 1] * xx + 56 + field[0]
    xs = matrix[1, 0] * yy + matrix[1, 1] * xx + 56 + field[1]
    warped = ndimage.map_coordinates(big, [ys, xs], order=1, cval=0.0)
    mask = warped > 0.4
    if style.pen:
        mask = ndimage.binary_dilation(mask, disk(style.pen))
    ink = np.clip(ndimage.gaussian_filter(mask.astype(np.float32), 1.0) * 1.2, 0, 1)
    rows, cols = np.nonzero(ink > 0.05)
    if not len(rows):
        return np.zeros((canvas, canvas, 4), np.uint8)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = style.size * rng.uniform(0.9, 1.1) * canvas / max(ink.shape)
    height, width = (max(1, min(canvas, round(s * scale))) for s in ink.shape)
    ink = np.asarray(Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.BILINEAR))
    rgba = np.zeros((canvas, canvas, 4), np.uint8)
    top, left = rng.integers(0, canvas - height + 1), rng.integers(0, canvas - width + 1)
    rgba[top:top + height, left:left + width, 3] = (np.clip(ink, 0, 1) * 255).round().astype(np.uint8)
    return rgba


def simulated_students(count: int = 30, seed: int = 0) -> list[Style]:
    """`count` students' styles, the same for a seed."""
    rng = np.random.default_rng(seed)
    return [student_style(rng) for _ in range(count)]


def simulated_class(images: np.ndarray, labels: np.ndarray, styles: list[Style], per_digit: int = 1,
                    seed: int = 0) -> list[tuple[str, Drawing]]:
    """Each student (a style) drawing every digit `per_digit` times from MNIST digits (images (N, 28, 28)
    uint8, labels (N,)): (student name, drawing) pairs, with file names unique to the seed."""
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    drawn = []
    for s, style in enumerate(styles):
        for d in range(10):
            for k in range(per_digit):
                image = student_drawing(images[rng.choice(by_digit[d])], d, style, rng)
                drawn.append((f"student-{s:02d}", Drawing(f"sim-{seed}-{s:02d}-{d}-{k}.png", d, image)))
    return drawn
