"""Sentences the engine hands to a person: an English template with {named} params, kept on the error that
says it, so the app can show it in the reader's language (ui.i18n.said) while the command line and the logs
read the English (str(error)). The engine never imports the front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

E = TypeVar("E", bound=Exception)


def N_(msgid: str) -> str:
    """Marks an English template for translation where the engine says it (pybabel extracts N_ here too)."""
    return msgid


@dataclass(frozen=True)
class Words:
    """A sentence that is not an error (a reason inside another sentence): its English template and params,
    read by `ui.i18n.said` as an error's are; str() is the English."""

    template: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.params)


def worded(error: type[E], template: str, **params: object) -> E:
    """`error` whose text is `template` filled with `params`, keeping both for a translation."""
    e = error(template.format(**params))
    e.template, e.params = template, params
    return e


def reworded(error: type[E], cause: BaseException) -> E:
    """`error` saying what `cause` says, its template and params kept when it has them."""
    template = getattr(cause, "template", None)
    return worded(error, template, **getattr(cause, "params", {})) if isinstance(template, str) else error(str(cause))
