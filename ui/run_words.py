"""A run's words in this browser's language: its settings table (net/config `Summary`), the settings changed
while it trained (net/controls `SettingChange`) and where it is paused (`Paused`). The engine gives the numbers
and names; the sentences are made here, whole ones per kind (a language agrees each its own way)."""

from __future__ import annotations

from mnist_core.net.config import SCHEDULES, Summary, SUMMARY_ROWS
from mnist_core.net.controls import Paused, SettingChange
from ui.i18n import listed, N_, num, pct, significant, t

# The schedules' names as the Train page's box and the settings table show them.
SCHEDULE_LABELS = {"constant": N_("constant"), "onecycle": N_("one-cycle"), "cosine": N_("cosine")}
assert set(SCHEDULE_LABELS) == set(SCHEDULES)

# Each row of a run's settings table, by its Summary name.
ROW_LABELS = {"layers": N_("layers"), "activation": N_("activation"), "optimizer": N_("optimizer"),
              "lr": N_("learning rate"), "schedule": N_("schedule"),
              "batch_size": N_("batch size"), "dropout": N_("dropout"), "epochs": N_("epochs"),
              "augment": N_("augmentation"), "drawn": N_("drawn digits"), "seed": N_("seed"), "also": N_("also"),
              "device": N_("device")}
assert set(SUMMARY_ROWS) <= set(ROW_LABELS)

# The other settings that are on (the "also" row), by their Summary name; {value} where they have one.
ALSO_LABELS = {"momentum": N_("momentum {value}"), "weight_decay": N_("weight decay {value}"),
               "elastic": N_("elastic distortion"), "fill_in": N_("fat-pen fill-in"), "hands": N_("real hands"),
               "init_scale": N_("initial weights × {value}")}

# A live change, one whole sentence per setting: "learning rate changed at epoch 2.4 (0.003 → 0.3)".
CHANGED = {"lr": N_("learning rate changed at epoch {epoch} ({old} → {new})"),
           "momentum": N_("momentum changed at epoch {epoch} ({old} → {new})"),
           "weight_decay": N_("weight decay changed at epoch {epoch} ({old} → {new})"),
           "dropout": N_("dropout changed at epoch {epoch} ({old} → {new})"),
           "augment": N_("augmentation changed at epoch {epoch} ({old} → {new})"),
           "batch_size": N_("batch size changed at epoch {epoch} ({old} → {new})")}
# ... and as a chart's mark says it, short: "lr 0.003 → 0.3".
MARKS = {"lr": N_("lr {old} → {new}"), "momentum": N_("momentum {old} → {new}"),
         "weight_decay": N_("weight decay {old} → {new}"), "dropout": N_("dropout {old} → {new}"),
         "augment": N_("augmentation {old} → {new}"),
         "batch_size": N_("batch size {old} → {new} (from the next epoch)")}


def optimizer_words(summary: Summary) -> str:
    """"adam, learning rate 0.003, one-cycle"."""
    return t("{optimizer}, learning rate {lr}, {schedule}", optimizer=summary.optimizer_name,
             lr=significant(summary.lr), schedule=t(SCHEDULE_LABELS[summary.schedule]))


def also_words(summary: Summary) -> str:
    """The other settings that are on, listed ("" when none)."""
    return listed([t(ALSO_LABELS[name], value=significant(value)) if value is not None else t(ALSO_LABELS[name])
                   for name, value in summary.also])


def _value(summary: Summary, name: str) -> str:
    match name:
        case "layers" | "activation":
            return getattr(summary, name)
        case "batch_size" | "epochs" | "seed":
            return num(getattr(summary, name), 0)
        case "dropout":
            return num(summary.dropout, 3, trim=True)
        case "augment":
            return num(summary.augment, 2, trim=True) if summary.augment else t("off")
        case "drawn":
            return pct(summary.drawn, 0) if summary.drawn else t("none")
        case _:
            return also_words(summary)


def settings_rows(summary: Summary, epochs: int | None = None, device: str | None = None) -> list[tuple[str, str]]:
    """A run's settings as its table shows them, (label, value) in this browser's language; `epochs` in place
    of the config's, `device` as a last row. The optimizer's learning rate and schedule on rows of their own:
    "adam, taux d'apprentissage 0,003, one-cycle" was cut in the sidebar's narrow table."""
    rows = []
    for name in SUMMARY_ROWS:
        if name == "optimizer":
            rows += [(t(ROW_LABELS["optimizer"]), summary.optimizer_name),
                     (t(ROW_LABELS["lr"]), significant(summary.lr)),
                     (t(ROW_LABELS["schedule"]), t(SCHEDULE_LABELS[summary.schedule]))]
        elif name != "also" or summary.also:
            rows.append((t(ROW_LABELS[name]), num(epochs, 0) if name == "epochs" and epochs else _value(summary, name)))
    return [*rows, (t(ROW_LABELS["device"]), device)] if device is not None else rows


def _change_params(change: SettingChange) -> dict[str, str]:
    if change.setting == "batch_size":
        return dict(epoch=num(change.epoch, 1), old=num(change.old, 0), new=num(change.new, 0))
    return dict(epoch=num(change.epoch, 1), old=significant(change.old), new=significant(change.new))


def change_words(change: SettingChange) -> str:
    """"learning rate changed at epoch 2.4 (0.003 → 0.3)"."""
    template = CHANGED.get(change.setting)
    return t(template, **_change_params(change)) if template else change.label


def changes_words(changes: list[SettingChange] | tuple[SettingChange, ...]) -> str:
    """A model's live changes, listed ("" for none)."""
    return listed([change_words(c) for c in changes])


def change_mark(change: SettingChange) -> str:
    """A change as its mark on a chart says it: "lr 0.003 → 0.3"."""
    template = MARKS.get(change.setting)
    return t(template, **_change_params(change)) if template else change.label


def paused_words(paused: Paused) -> str:
    return t("Paused at epoch {epoch}, batch {batch} of {batches}", epoch=paused.epoch,
             batch=paused.batch, batches=paused.batches)  # plain whole numbers, as the batch counters elsewhere
