"""Sentences the engine hands to a person: an English template with {named} params, kept on the error that
says it, so the app can show it in the reader's language (ui.i18n.said) while the command line and the logs
read the English (str(error)); and OS errors in words a user can act on. The engine never imports the front end."""

from __future__ import annotations

import errno
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


# An OSError in words, one whole sentence per place and kind: (read-only, disk full, anything else).
OS_ERRORS = {
    "folder": (N_("the folder cannot be written: it is read-only or not yours{where}"),
               N_("the folder cannot be written: the disk is full{where}"), N_("the folder: {reason}{where}")),
    "drawings folder": (N_("the drawings folder cannot be written: it is read-only or not yours{where}"),
                        N_("the drawings folder cannot be written: the disk is full{where}"),
                        N_("the drawings folder: {reason}{where}")),
    "model folder": (N_("the model folder cannot be written: it is read-only or not yours{where}"),
                     N_("the model folder cannot be written: the disk is full{where}"),
                     N_("the model folder: {reason}{where}")),
    "model or drawing folder": (N_("the model or drawing folder cannot be written: it is read-only or not "
                                   "yours{where}"),
                                N_("the model or drawing folder cannot be written: the disk is full{where}"),
                                N_("the model or drawing folder: {reason}{where}")),
    "model": (N_("the model '{name}' cannot be written: it is read-only or not yours{where}"),
              N_("the model '{name}' cannot be written: the disk is full{where}"),
              N_("the model '{name}': {reason}{where}")),
}


def os_error_words(e: OSError, place: str = "folder", path: object = None, **params: object) -> Words:
    """An OSError in words a user can act on, one line, in English and ready for a translation: `place` (a
    key of OS_ERRORS) where it happened, `path` the folder to name when the error names no file."""
    filename = getattr(e, "filename", None) or path
    where = f" ({filename})" if filename else ""
    read_only, full, other = OS_ERRORS[place]
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return Words(read_only, {**params, "where": where})
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return Words(full, {**params, "where": where})
    return Words(other, {**params, "where": where, "reason": e.strerror or str(e)})


def os_error_text(e: OSError, place: str = "folder", path: object = None, **params: object) -> str:
    """The same in English (the command line, the logs)."""
    return str(os_error_words(e, place, path, **params))


def os_failure(error: type[Exception], e: OSError, place: str = "folder", path: object = None,
               **params: object) -> Exception:
    """`error` saying the OSError `e` in words (os_error_words), translatable as `worded` errors are."""
    words = os_error_words(e, place, path, **params)
    return worded(error, words.template, **words.params)
