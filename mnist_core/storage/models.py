"""The model store: save, list, load, rename and delete trained models with their typed metadata, each
file checked before use; which model a file is (an id), whatever its name."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import secrets
import uuid
import zipfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

import torch

from mnist_core.folders import folder_setting, PROJECT_ROOT
from mnist_core.net.config import MAX_HISTORY, TrainConfig
from mnist_core.net.controls import SettingChange
from mnist_core.net.edits import Edit, edit_from_dict, edit_to_dict
from mnist_core.net.history import EpochRecord, Metrics
from mnist_core.net.model import ACTIVATIONS, build_model, MLP
from mnist_core.storage.files import locked, sweep_once, write_atomically
from mnist_core.storage.names import as_read, check_name, MODEL_SUFFIX, NAME_PATTERN, poses_as_app_label, UnreadableName
from mnist_core.storage.owners import OwnerTags
from mnist_core.texts import N_, os_failure, reason, reworded, worded

# A Train more's save refused: the model its run made is no longer under its name.
NO_LONGER_DELETED = N_("the model '{name}' is no longer the one this run made (it was deleted); it was not overwritten")
NO_LONGER_REPLACED = N_("the model '{name}' is no longer the one this run made (it was replaced); it was not "
                        "overwritten")
SHIPS_WITH_THE_APP = N_("'{name}' ships with the app and cannot be changed or deleted")

SUFFIX = MODEL_SUFFIX
FORMAT = 1
# A file's metadata is trusted only this far: an MLP this store will build (checked before anything
# is allocated; best-mlp has 1.3 M parameters).
MAX_LAYERS = 16
MAX_WIDTH = 65_536
MAX_PARAMETERS = 50_000_000  # 200 MB of float32
# A file's pickled part (metadata, history, the optimizer's small values; not the tensors) is read whole by
# every listing: at most this big, checked from the zip's directory before it is unpickled. 10,000 epochs
# (MAX_HISTORY) of history are about 3 MB; a forged 2 million rows are 58 MB.
MAX_META_BYTES = 16 * 1024 * 1024
# Models that ship with the app: listed and loaded like the others, never overwritten or deleted.
BUILTIN_DIR = PROJECT_ROOT / "mnist_core" / "builtin_models"


class StoreError(Exception):
    """A model name is invalid, a model is missing or damaged, or a write is refused."""


@dataclass(frozen=True)
class EditedFrom:
    """A model made in the lab: which model it was edited from (its name then, and its id) and the edits."""

    name: str
    id: str
    edits: tuple[Edit, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "id": self.id, "edits": [edit_to_dict(e) for e in self.edits]}

    @classmethod
    def from_dict(cls, values: dict) -> EditedFrom:
        """Checked (StoreError): a file's metadata is input from anywhere."""
        if not isinstance(values, dict) or not isinstance(values.get("name"), str) \
                or not isinstance(values.get("id", ""), str) or not isinstance(values.get("edits"), list):
            raise worded(StoreError, N_("metadata field 'edited_from' is not a model name, id and list of edits"))
        try:
            edits = tuple(edit_from_dict(e) for e in values["edits"])
        except ValueError as e:
            raise worded(StoreError, N_("metadata field 'edited_from': {reason}"), reason=reason(e)) from None
        return cls(values["name"], values.get("id", ""), edits)


@dataclass
class ModelMeta:
    """Everything kept beside a model's weights, typed; `to_dict` is what a file holds (plain JSON values),
    `from_dict` parses and checks it once."""

    name: str
    model: dict  # the MLP's own config (hidden, activation, dropout): enough to rebuild it, see `build_model`
    config: TrainConfig  # the settings it was trained with (its last run's)
    history: list[EpochRecord] = field(default_factory=list)
    metrics: Metrics | None = None  # its last epoch's scores; None before any epoch
    parameters: int = 0
    device: str = "cpu"
    train_seconds: float = 0.0
    created: str = ""  # ISO 8601, UTC
    stopped: bool = False  # a stop request ended its last run early
    owner: str = ""  # OwnerTags hash of who may rename or delete it in a shared app ("" = nobody but the operator)
    builtin: bool = False
    id: str = ""  # uuid4 hex, made with the model and kept by Train more: which model a file is, whatever its name
    parent: str = ""  # the id of the model this one started as a copy of ("" for a new one): hidden with it
    changes: list[SettingChange] = field(default_factory=list)  # settings changed while it trained (a file
    # written before live controls has none)
    edited_from: EditedFrom | None = None  # made in the lab from another model (older files: None)

    @property
    def epochs(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "config": self.config.to_dict(),
                "history": [asdict(r) for r in self.history],
                "metrics": self.metrics.to_dict() if self.metrics else {},
                "changes": [c.to_dict() for c in self.changes],
                "edited_from": self.edited_from.to_dict() if self.edited_from else None}

    @classmethod
    def from_dict(cls, values: dict) -> ModelMeta:
        """Checked field by field: a file's metadata is input from anywhere (raises StoreError)."""
        if not isinstance(values, dict):
            raise worded(StoreError, N_("metadata is a {kind}, not a mapping"), kind=type(values).__name__)
        _check_plain(values)
        try:
            config = TrainConfig.from_dict(values["config"])
            history = [EpochRecord.from_dict(r) for r in values.get("history", [])]
            changes = [SettingChange.from_dict(c) for c in values.get("changes", [])]
        except (TypeError, ValueError) as e:
            raise worded(StoreError, N_("metadata field 'config', 'history' or 'changes' is not valid: {reason}"),
                         reason=reason(e)) from None
        edited = values.get("edited_from")
        known = {f.name for f in fields(cls)} - {"config", "history", "metrics", "changes", "edited_from"}
        return cls(**{k: v for k, v in values.items() if k in known}, config=config, history=history,
                   metrics=Metrics.from_dict(values.get("metrics") or {}), changes=changes,
                   edited_from=None if edited is None else EditedFrom.from_dict(edited))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_plain(values: dict) -> None:
    """A file's metadata, before it is parsed: every field of the type it must have, and an MLP this store
    will build (its size checked before anything is allocated). Each problem its own sentence, for a translation
    (the field's name as the file spells it)."""
    def need(ok: bool, template: str, **params: object) -> None:
        if not ok:
            raise worded(StoreError, template, **params)

    get = values.get
    for key in ("name", "created", "device", "owner", "id", "parent"):
        need(isinstance(get(key, ""), str), N_("metadata field '{field}' is not text"), field=key)
    for key in ("stopped", "builtin"):
        need(isinstance(get(key, False), bool), N_("metadata field '{field}' is not true/false"), field=key)
    parameters = get("parameters", 0)
    need(isinstance(parameters, int) and not isinstance(parameters, bool), NOT_A_NUMBER, field="parameters")
    need(_is_number(get("train_seconds", 0.0)), NOT_A_NUMBER, field="train_seconds")
    need(isinstance(get("config"), dict), NOT_A_MAPPING, field="config")
    metrics = get("metrics", {})
    need(isinstance(metrics, dict) and all(isinstance(k, str) and _is_number(v) for k, v in metrics.items()),
         N_("metadata field '{field}' is not a mapping of numbers"), field="metrics")
    history = get("history", [])
    need(isinstance(history, list) and all(isinstance(r, dict) for r in history),
         N_("metadata field '{field}' is not a list of epoch records"), field="history")
    need(len(history) <= MAX_HISTORY, N_("metadata field '{field}' holds {count} epochs, more than {limit}"),
         field="history", count=len(history), limit=MAX_HISTORY)
    changes = get("changes", [])
    need(isinstance(changes, list) and all(isinstance(c, dict) for c in changes),
         N_("metadata field '{field}' is not a list of setting changes"), field="changes")
    model = get("model")
    need(isinstance(model, dict), NOT_A_MAPPING, field="model")
    hidden = model.get("hidden")
    need(isinstance(hidden, list) and 1 <= len(hidden) <= MAX_LAYERS
         and all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_WIDTH for h in hidden),
         N_("metadata field '{field}' is not 1-{layers} layer sizes of 1-{width}"), field="model.hidden",
         layers=MAX_LAYERS, width=MAX_WIDTH)
    need(model.get("activation") in ACTIVATIONS, N_("metadata field '{field}' is not one of {choices}"),
         field="model.activation", choices=", ".join(ACTIVATIONS))
    need(_is_number(model.get("dropout", 0.0)) and 0.0 <= model.get("dropout", 0.0) < 1.0,
         N_("metadata field '{field}' is not a number in [0, 1)"), field="model.dropout")
    count = sum(shape[0] * (shape[1] if len(shape) == 2 else 1) for shape in expected_shapes(model).values())
    need(count <= MAX_PARAMETERS, N_("metadata field '{field}' makes {count} parameters, more than {limit}"),
         field="model.hidden", count=count, limit=MAX_PARAMETERS)


NOT_A_NUMBER = N_("metadata field '{field}' is not a number")
NOT_A_MAPPING = N_("metadata field '{field}' is not a mapping")


def _check_pickle_size(path: Path) -> None:
    """StoreError unless the file's pickled part is at most MAX_META_BYTES, from the zip's directory (a few
    hundred bytes read): a forged history of millions of rows is refused before it is unpickled."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(i.file_size for i in archive.infolist() if i.filename.endswith("/data.pkl"))
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip: torch.load says what it is
    if size > MAX_META_BYTES:
        raise worded(StoreError, N_("its metadata is {size} MB, more than {limit} MB (a history no run makes)"),
                     size=round(size / 1e6), limit=MAX_META_BYTES // (1024 * 1024))


# Metadata read, by file version (path, name, inode, mtime, size): a listing of unchanged files reads none.
_META_CACHE: dict[tuple, ModelMeta] = {}
META_CACHE_ENTRIES = 512


def expected_shapes(model: dict) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes `build_model(model)` makes, worked out without building it: Linear layers
    at indices 0, k, 2k ... of `layers` (k = 2, or 3 with dropout), weight (out, in) and bias (out,)."""
    sizes = (28 * 28, *model["hidden"], 10)
    step = 3 if model.get("dropout", 0.0) > 0 else 2
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        shapes[f"layers.{i * step}.weight"] = (fan_out, fan_in)
        shapes[f"layers.{i * step}.bias"] = (fan_out,)
    return shapes


def model_name(name: str) -> str:
    """A model name, checked as every plain name is (`names.check_name`); raises StoreError."""
    return check_name(name, "model", StoreError)


def default_model_name(hidden: tuple[int, ...] | list[int], now: datetime | None = None) -> str:
    """A new model's name when its trainer gives none: 'mlp-256-128-20261129-221530'."""
    return f"mlp-{'-'.join(map(str, hidden))}-{(now or datetime.now()):%Y%m%d-%H%M%S}"


def find_store_dir(store: str | os.PathLike | None = None) -> Path:
    """`store` if given, else $MNIST_MODELS, else `models/` in the project."""
    return folder_setting(store, "MNIST_MODELS", PROJECT_ROOT / "models")


@dataclass
class Listing:
    """One entry of `ModelStore.list`: its metadata, or why it cannot be read."""

    name: str
    meta: ModelMeta | None
    error: str | None = None


class ModelStore:
    """Models as single files `NAME.pt` (weights, optimizer state, metadata) under one folder.

    Each file is written to a temporary file and published in one step, so a crash never leaves a
    half-written model; a new name is taken with a link that fails if the name exists, and a file is
    replaced only if it still holds the model (the id) its writer expects. Files are read with
    `torch.load(weights_only=True, mmap=True)`: no code runs, and the metadata and every tensor's shape
    are checked before a model is built.
    """

    def __init__(self, root: str | os.PathLike | None = None, builtin_dir: Path | None = BUILTIN_DIR) -> None:
        self.root = find_store_dir(root)
        # A store opened on the built-in folder itself (to make the shipped model) is a plain store.
        same = builtin_dir is not None and self.root.resolve() == Path(builtin_dir).resolve()
        self.builtin_dir = None if same else builtin_dir
        self.owners = OwnerTags(self.root)
        sweep_once(self.root, depth=0)  # what killed saves left, at this process's start

    def _path(self, name: str) -> Path:
        return self.root / f"{model_name(name)}{SUFFIX}"

    def _builtin_path(self, name: str) -> Path | None:
        if self.builtin_dir is None:
            return None
        path = self.builtin_dir / f"{model_name(name)}{SUFFIX}"
        return path if path.is_file() else None

    def _locate(self, name: str) -> Path:
        path = self._path(name)
        if path.is_file():
            return path
        builtin = self._builtin_path(name)
        if builtin:
            return builtin
        raise worded(StoreError, N_("no model named '{name}' in {folder}"), name=name, folder=self.root)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The store's lock, across processes (training children save too): held while a file is
        checked and then changed, so no rename, delete or save comes between."""
        return locked(self.root)

    def is_builtin(self, name: str) -> bool:
        return not self._path(name).is_file() and self._builtin_path(name) is not None

    def free_name(self, name: str, held: set[str] = frozenset()) -> str:
        """`name` if neither stored nor `held`, else the first free of `name-2`, `name-3` ..."""
        candidate, n = model_name(name), 1
        while self.exists(candidate) or candidate in held:
            n += 1
            candidate = model_name(f"{name[:60]}-{n}")
        return candidate

    def _all_names(self) -> list[str]:
        names = []
        for folder in [self.root] + ([self.builtin_dir] if self.builtin_dir else []):
            with contextlib.suppress(OSError):
                names += [p.name[: -len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")]
        return names

    def check_new_name(self, name: str) -> str:
        """A name a new model (or a rename) may take: a plain name that reads as neither one of the app's own
        labels nor another stored model's name ('aIice1' beside 'alice1', 'default.' beside 'default'); a
        StoreError (one line) otherwise. The name itself being taken is the caller's check."""
        model_name(name)
        try:
            label = poses_as_app_label(name)
            key = as_read(name, "model name")
        except UnreadableName as e:
            raise reworded(StoreError, e) from None
        # The folder the shipped models are made in (a store with no built-in folder) may name one `default`.
        if label is not None and not (self.builtin_dir is None and name == label):
            raise worded(StoreError, N_("'{name}' reads as the app's own '{label}': choose a name of your own"),
                         name=name, label=label)
        for other in self._all_names():
            with contextlib.suppress(UnreadableName):
                if other != name and as_read(other) == key:
                    raise worded(StoreError, N_("'{name}' reads as the model '{other}' on the leaderboard: choose "
                                                "a name that does not look like another"), name=name, other=other)
        return name

    def exists(self, name: str) -> bool:
        return self._path(name).is_file() or self._builtin_path(name) is not None

    def check_writable(self) -> None:
        """Raise StoreError (in words) unless a model can be written here now: before a run, not after it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomically(self.root / f".write-test-{secrets.token_hex(4)}", lambda f: f.write(b"x" * 4096))
            for probe in self.root.glob(".write-test-*"):
                probe.unlink(missing_ok=True)
        except OSError as e:
            raise os_failure(StoreError, e, "model folder", self.root) from None

    def save(self, model: MLP, meta: ModelMeta, optimizer_state: dict | None = None,
             overwrite: bool = False, replaces: str | None = None) -> Path:
        """Publish a model under `meta.name`. Without `overwrite` the name must be free (of two
        simultaneous saves exactly one wins). With it, `replaces` (an id) says which model the file
        must still hold: a file that now holds another model, or is gone, is left alone."""
        path = self._path(meta.name)
        if self._builtin_path(meta.name):
            raise worded(StoreError, N_("'{name}' is the name of a model that ships with the app; choose another"),
                         name=meta.name)
        meta.id = meta.id or uuid.uuid4().hex
        payload = {
            "format": FORMAT,
            "meta": meta.to_dict(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer_state or {},
        }
        try:
            # Serialised in memory first: torch.save into a file on a full disk raises a RuntimeError
            # ("enforce fail at inline_container.cc"); a plain write raises an OSError that says why.
            buffer = io.BytesIO()
            torch.save(payload, buffer)
            self.root.mkdir(parents=True, exist_ok=True)
            if not overwrite:
                with self.locked():  # no look-alike name published between the check and the link
                    self.check_new_name(meta.name)
                    try:
                        write_atomically(path, lambda f: f.write(buffer.getbuffer()), overwrite=False)
                    except FileExistsError:
                        raise worded(StoreError, N_("a model named '{name}' exists already; choose another name"),
                                                     name=meta.name) from None
                return path
            with self.locked():
                if replaces is not None:
                    held = self._id_at(path)
                    if held != replaces:
                        raise worded(StoreError, NO_LONGER_DELETED if held is None else NO_LONGER_REPLACED,
                                     name=meta.name)
                write_atomically(path, lambda f: f.write(buffer.getbuffer()))
        except OSError as e:
            raise os_failure(StoreError, e, "model folder", self.root) from e
        return path

    def _id_at(self, path: Path) -> str | None:
        """The id of the model in a file; None if there is no readable model there."""
        if not path.is_file():
            return None
        try:
            return self._read(path, path.stem)[1].id
        except StoreError:
            return None

    def find_id(self, model_id: str) -> str | None:
        """The name under which the model with this id is stored now (it may have been renamed)."""
        if not model_id:
            return None
        for entry in self.list():
            if entry.meta is not None and not entry.meta.builtin and entry.meta.id == model_id:
                return entry.name
        return None

    def _read(self, path: Path, name: str) -> tuple[dict, ModelMeta]:
        """A file's payload and its metadata, parsed once (the name and built-in flag from the file's place)."""
        try:
            _check_pickle_size(path)
            # mmap: reading the metadata and shapes does not pull the weights into memory.
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            if not isinstance(payload, dict) or payload.get("format") != FORMAT or "meta" not in payload:
                raise worded(StoreError, N_("not a model file of this app"))
            meta = ModelMeta.from_dict(payload["meta"])  # every field checked
            weights = payload.get("model")
            if not isinstance(weights, dict):
                raise worded(StoreError, N_("it holds no weights"))
            shapes = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in weights.items()}
            if shapes != expected_shapes(payload["meta"]["model"]):
                raise worded(StoreError, N_("its weights do not have the shapes its metadata describes"))
            # The file name is the model's name, whatever the file says inside.
            meta.name, meta.builtin = name, self.is_builtin(name)
            return payload, meta
        except StoreError as e:
            raise worded(StoreError, N_("model '{name}' ({path}) is damaged: {reason}"), name=name, path=path,
                         reason=reason(e)) from None
        except Exception as e:  # any damage: truncated zip, bad pickle, wrong content
            # PyTorch's own messages run to paragraphs of advice about saving options: the kind is enough.
            raise worded(StoreError, N_("model '{name}' ({path}) is damaged or not a model file of this app ({kind})"),
                         name=name, path=path, kind=type(e).__name__) from e

    def meta(self, name: str) -> ModelMeta:
        """A model's metadata, read once per version of its file in this process (every page asks for it)."""
        path = self._locate(name)
        try:
            stat = path.stat()
        except OSError as e:
            raise os_failure(StoreError, e, "model", name=name) from None
        key = (str(path), name, stat.st_ino, stat.st_mtime_ns, stat.st_size)
        found = _META_CACHE.get(key)
        if found is None:
            found = self._read(path, name)[1]
            if len(_META_CACHE) >= META_CACHE_ENTRIES:
                _META_CACHE.pop(next(iter(_META_CACHE)))
            _META_CACHE[key] = found
        meta = copy.copy(found)  # callers may change theirs (a save sets its id); the records are not changed
        meta.history = list(found.history)
        meta.builtin = self.is_builtin(name)
        return meta

    def load(self, name: str, device: torch.device | str = "cpu") -> tuple[MLP, ModelMeta, dict]:
        """The rebuilt model (eval mode, on device), its metadata and its optimizer state."""
        path = self._locate(name)
        payload, meta = self._read(path, name)  # metadata and every shape checked: building costs what it says
        try:
            model = build_model(meta.model)
            model.load_state_dict(payload["model"])
        except Exception as e:
            raise worded(StoreError, N_("model '{name}' ({path}) does not match its own description: {reason}"),
                         name=name, path=path, reason=str(e)) from e
        optimizer = payload.get("optimizer")
        return model.to(device).eval(), meta, optimizer if isinstance(optimizer, dict) else {}

    def list(self) -> list[Listing]:
        """Every model, user models first then the built-in ones, newest first; damaged files are
        listed with their error so one bad file never hides the others."""
        entries: dict[str, Listing] = {}
        folders = [self.root] + ([self.builtin_dir] if self.builtin_dir else [])
        for folder in folders:
            try:
                paths = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
            except OSError:
                continue
            for path in paths:
                name = path.name[: -len(SUFFIX)]
                if name in entries or not NAME_PATTERN.fullmatch(name):
                    continue
                try:
                    entries[name] = Listing(name, self.meta(name))
                except StoreError as e:
                    entries[name] = Listing(name, None, str(e))
        return sorted(entries.values(), key=_newest_first)

    def _writable(self, name: str) -> Path:
        path = self._path(name)
        if not path.is_file():
            if self._builtin_path(name):
                raise worded(StoreError, SHIPS_WITH_THE_APP, name=name)
            raise worded(StoreError, N_("no model named '{name}' in {folder}"), name=name, folder=self.root)
        return path

    def delete(self, name: str) -> None:
        try:
            with self.locked():
                self._writable(name).unlink()
        except OSError as e:
            raise os_failure(StoreError, e, "model folder", self.root) from e

    def rename(self, name: str, new_name: str) -> None:
        """The name inside a file is not trusted (the file name is), so renaming is a rename."""
        target = self._path(new_name)
        if self._builtin_path(new_name):
            raise worded(StoreError, N_("'{name}' is the name of a model that ships with the app; choose another"),
                         name=new_name)
        try:
            with self.locked():
                path = self._writable(name)
                self.check_new_name(new_name)
                try:
                    os.link(path, target)  # fails if the target exists: no model is ever overwritten
                except FileExistsError:
                    raise worded(StoreError, N_("a model named '{name}' exists already; choose another name"),
                                     name=new_name) from None
                path.unlink()
        except OSError as e:
            raise os_failure(StoreError, e, "model folder", self.root) from e


def _newest_first(entry: Listing) -> tuple[bool, float]:
    try:
        created = datetime.fromisoformat(entry.meta.created).timestamp() if entry.meta else 0.0
    except ValueError:
        created = 0.0
    return (entry.meta is not None and entry.meta.builtin, -created)
