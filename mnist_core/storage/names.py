"""A name as people read it: the one key under which two names that look the same on a projector are the same
name (model names here; nicknames use it too). NFKC, confusable letters folded, case folded, accents and the
separators nobody reads dropped; invisible and formatting characters refused."""

from __future__ import annotations

import re
import unicodedata

from mnist_core.texts import N_, worded

# The app's own labels on a leaderboard row, and the shipped model: no model name or nickname may read as them.
APP_LABELS = ("shipped with the app", "command line", "no nickname", "default")

# Characters no category test catches that print as nothing (Hangul fillers, Braille blank, Mongolian vowel
# separator, Khmer inherent vowels, the combining grapheme joiner).
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u17b4\u17b5\u034f")
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})

# Look-alikes, after NFKC: capitals that read as a small l before case folding (I and l, as in "aIice"), then
# the letters and digits of other scripts that print like Latin ones (a subset of Unicode's confusables.txt
# that covers Cyrillic, Greek and Armenian look-alikes of the Latin alphabet).
_BEFORE_CASEFOLD = str.maketrans({"I": "l", "|": "l", "\u0399": "l", "\u0406": "l", "\u04c0": "l", "\u2160": "l"})
_AFTER_CASEFOLD = str.maketrans({
    "1": "l", "0": "o", "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
    "\u0445": "x", "\u0456": "l", "\u0458": "j", "\u0455": "s", "\u0501": "d", "\u04bb": "h", "\u0261": "g",
    "\u044c": "b", "\u043a": "k", "\u043c": "m", "\u043d": "h", "\u0442": "t", "\u0432": "b", "\u04cf": "l",
    "\u03b1": "a", "\u03bf": "o", "\u03c1": "p", "\u03bd": "v", "\u03ba": "k", "\u03b9": "i", "\u03c5": "u",
    "\u03c4": "t", "\u03b5": "e", "\u03b7": "n", "\u03c7": "x", "\u03b2": "b", "\u03c9": "w", "\u0585": "o",
    "\u0578": "n", "\u057d": "u", "\u0570": "h", "\u0566": "q", "\u0581": "g", "\u0131": "l", "\u0237": "j",
    # Case folded, a capital I is an i; and a capital I reads as a small l: i and l are one letter here.
    "i": "l",
})
# A name refused for a character that does not show, per kind of name (a language words each its own way).
UNSHOWN = {"name": N_("the name {name} holds a character that does not show ({code}): use letters, digits and "
                      "plain spaces"),
           "nickname": N_("the nickname {name} holds a character that does not show ({code}): use letters, digits "
                          "and plain spaces"),
           "model name": N_("the model name {name} holds a character that does not show ({code}): use letters, "
                            "digits and plain spaces")}
_UNREAD = re.compile(r"[\s._\-'\u2019`]+")  # separators a reader passes over: "alice_1" reads as "alice 1"


class UnreadableName(ValueError):
    """A name holds a character that prints as nothing or changes how the text around it is shown."""


def as_read(name: str, what: str = "name") -> str:
    """The key of `name` as people read it: equal for 'alice1', 'aIice1', 'ALICE 1', 'аlice1' (Cyrillic а),
    'ａｌｉｃｅ１' (full-width) and '𝐚𝐥𝐢𝐜𝐞𝟏' (mathematical bold). UnreadableName (one line) for an invisible or
    formatting character (categories Cc, Cf, Co, Cs, Cn, Zl, Zp; a space other than the plain one; a combining
    mark on nothing; the fillers in INVISIBLE)."""
    if not isinstance(name, str):
        raise UnreadableName(f"a {what} is text, got {type(name).__name__}")
    text = unicodedata.normalize("NFKC", name)
    for i, char in enumerate(name + text):  # as typed (a no-break space) and as normalised
        category = unicodedata.category(char)
        before = (name + text)[i - 1] if i not in (0, len(name)) else ""
        alone = category.startswith("M") and not before.isalnum()
        if char in INVISIBLE or category in REFUSED_CATEGORIES or (category == "Zs" and char != " ") or alone:
            raise worded(UnreadableName, UNSHOWN.get(what, UNSHOWN["name"]), name=repr(name),
                         code=f"U+{ord(char):04X}")
    folded = unicodedata.normalize("NFD", text.translate(_BEFORE_CASEFOLD).casefold())
    bare = "".join(c for c in folded if not unicodedata.category(c).startswith("M")).translate(_AFTER_CASEFOLD)
    return _UNREAD.sub("", bare).replace("rn", "m").replace("vv", "w")


def poses_as_app_label(name: str) -> str | None:
    """The app label `name` reads as ('default.' as the shipped model 'default'), else None."""
    key = as_read(name)
    return next((label for label in APP_LABELS if as_read(label) == key), None)
