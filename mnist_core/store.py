"""The model store: save, list, load, rename and delete trained models with their metadata."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, UTC
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .data import folder_setting, PROJECT_ROOT
from .model import build_model, MLP, parameter_count

if TYPE_CHECKING:
    from .train import Trainer

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SUFFIX = ".pt"
FORMAT = 1
# Models that ship with the app: listed and loaded like the others, never overwritten or deleted.
BUILTIN_DIR = PROJECT_ROOT / "mnist_core" / "builtin_models"


class StoreError(Exception):
    """A model name is invalid, a model is missing or damaged, or a write is refused."""


@dataclass
class ModelMeta:
    """Everything kept beside a model's weights; plain values, so it turns into JSON as is."""

    name: str
    model: dict  # the MLP's own config (hidden, activation, dropout): enough to rebuild it
    config: dict  # the TrainConfig it was trained with
    history: list[dict] = field(default_factory=list)  # EpochRecord dicts
    metrics: dict = field(default_factory=dict)  # final test_accuracy, test_f1, train_f1, loss
    parameters: int = 0
    device: str = "cpu"
    train_seconds: float = 0.0
    created: str = ""  # ISO 8601, UTC
    stopped: bool = False  # a stop request ended its last run early
    owner: str = ""  # who may rename or delete it in a shared app ("" = anyone with the store)
    builtin: bool = False

    @property
    def epochs(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelMeta:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def check_name(name: str) -> str:
    """A model name is a plain file name: letters, digits, '.', '_', '-'; no paths, no leading dot."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name.endswith(SUFFIX):
        raise StoreError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


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

    Each file is written to a temporary file and renamed into place, so a crash never leaves a
    half-written model. Files are read with `torch.load(weights_only=True)`: no code runs.
    """

    def __init__(self, root: str | os.PathLike | None = None, builtin_dir: Path | None = BUILTIN_DIR) -> None:
        self.root = find_store_dir(root)
        # A store opened on the built-in folder itself (to make the shipped model) is a plain store.
        same = builtin_dir is not None and self.root.resolve() == Path(builtin_dir).resolve()
        self.builtin_dir = None if same else builtin_dir

    def _path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}{SUFFIX}"

    def _builtin_path(self, name: str) -> Path | None:
        if self.builtin_dir is None:
            return None
        path = self.builtin_dir / f"{check_name(name)}{SUFFIX}"
        return path if path.is_file() else None

    def _locate(self, name: str) -> Path:
        path = self._path(name)
        if path.is_file():
            return path
        builtin = self._builtin_path(name)
        if builtin:
            return builtin
        raise StoreError(f"no model named '{name}' in {self.root}")

    def is_builtin(self, name: str) -> bool:
        return not self._path(name).is_file() and self._builtin_path(name) is not None

    def exists(self, name: str) -> bool:
        return self._path(name).is_file() or self._builtin_path(name) is not None

    def save(self, model: MLP, meta: ModelMeta, optimizer_state: dict | None = None,
             overwrite: bool = False) -> Path:
        path = self._path(meta.name)
        if self._builtin_path(meta.name):
            raise StoreError(f"'{meta.name}' is the name of a model that ships with the app; choose another")
        if path.exists() and not overwrite:
            raise StoreError(f"a model named '{meta.name}' exists already; choose another name")
        self.root.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT,
            "meta": meta.to_dict(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer_state or {},
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{meta.name}.", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(payload, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is readable like any other
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def _read(self, path: Path, name: str) -> dict:
        try:
            # mmap: reading the metadata does not pull the weights into memory.
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            if not isinstance(payload, dict) or payload.get("format") != FORMAT or "meta" not in payload:
                raise ValueError("not a model file of this app")
            return payload
        except Exception as e:  # any damage: truncated zip, bad pickle, wrong content
            raise StoreError(f"model '{name}' ({path}) is damaged or not a model file: {e}") from e

    def _meta_of(self, payload: dict, name: str) -> ModelMeta:
        # The file name is the model's name, whatever the file says inside.
        meta = ModelMeta.from_dict(payload["meta"])
        meta.name = name
        meta.builtin = self.is_builtin(name)
        return meta

    def meta(self, name: str) -> ModelMeta:
        return self._meta_of(self._read(self._locate(name), name), name)

    def load(self, name: str, device: torch.device | str = "cpu") -> tuple[MLP, ModelMeta, dict]:
        """The rebuilt model (eval mode, on device), its metadata and its optimizer state."""
        path = self._locate(name)
        payload = self._read(path, name)
        meta = self._meta_of(payload, name)
        try:
            model = build_model(meta.model)
            model.load_state_dict(payload["model"])
        except Exception as e:
            raise StoreError(f"model '{name}' ({path}) does not match its own description: {e}") from e
        return model.to(device).eval(), meta, payload.get("optimizer") or {}

    def list(self) -> list[Listing]:
        """Every model, user models first then the built-in ones, newest first; damaged files are
        listed with their error so one bad file never hides the others."""
        entries: dict[str, Listing] = {}
        folders = [self.root] + ([self.builtin_dir] if self.builtin_dir else [])
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob(f"*{SUFFIX}")):
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
                raise StoreError(f"'{name}' ships with the app and cannot be changed or deleted")
            raise StoreError(f"no model named '{name}' in {self.root}")
        return path

    def delete(self, name: str) -> None:
        self._writable(name).unlink()

    def rename(self, name: str, new_name: str) -> None:
        """The name inside a file is not trusted (the file name is), so renaming is a rename."""
        path = self._writable(name)
        target = self._path(new_name)
        if self._builtin_path(new_name):
            raise StoreError(f"'{new_name}' is the name of a model that ships with the app; choose another")
        try:
            os.link(path, target)  # fails if the target exists: no model is ever overwritten
        except FileExistsError:
            raise StoreError(f"a model named '{new_name}' exists already; choose another name") from None
        path.unlink()


def save_trained(store: ModelStore, trainer: Trainer, name: str, seconds: float, stopped: bool = False,
                 owner: str = "", overwrite: bool = False) -> Path:
    """Save a trainer's model with its settings, history and final metrics."""
    last = trainer.history[-1] if trainer.history else None
    meta = ModelMeta(
        name=name, model=trainer.model.config(), config=trainer.config.to_dict(),
        history=[asdict(r) for r in trainer.history],
        metrics={"test_accuracy": last.test_accuracy, "test_f1": last.test_f1, "train_f1": last.train_f1,
                 "loss": last.loss} if last else {},
        parameters=parameter_count(trainer.model), device=str(trainer.device), train_seconds=seconds,
        created=datetime.now(UTC).isoformat(timespec="seconds"), stopped=stopped, owner=owner,
    )
    return store.save(trainer.model, meta, trainer.optimizer.state_dict(), overwrite=overwrite)


def _newest_first(entry: Listing) -> tuple[bool, float]:
    try:
        created = datetime.fromisoformat(entry.meta.created).timestamp() if entry.meta else 0.0
    except ValueError:
        created = 0.0
    return (entry.meta is not None and entry.meta.builtin, -created)
