"""The network's layers as people read them in this browser's language: 'hidden 1' ... then 'output' (the
engine's layer_name, which the logs and file names keep, stays English)."""

from __future__ import annotations

from mnist_core.net.model import MLP
from ui.i18n import num, t


def layer_label(layer: int, depth: int) -> str:
    """Layer `layer` (0 = the first hidden) of a network with `depth` hidden layers: 'hidden 1', 'output'."""
    return t("output") if layer == depth else t("hidden {depth}", depth=layer + 1)


def layer_choice(model: MLP, layer: int) -> str:
    """A layer as a choice in a box: 'hidden 1 (512 units)'."""
    return t("{layer} ({count} units)", layer=layer_label(layer, len(model.hidden)),
             count=num((*model.hidden, 10)[layer], 0))
