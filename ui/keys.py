"""Every session-state key the pages share, in one place, and the app's settings read from the environment."""

from __future__ import annotations

import os

OWNER = "owner"  # this browser's private owner key (ui/identity.py; never in a URL, a file or a log)
JOB = "job"  # id of the job this session shows
# A share link's light first view (the run alone, the whole page a second later): the job it was shown for,
# and the job whose whole page is still to be drawn.
LIGHT_SEEN, LIGHT_VIEW = "t_light_seen", "t_light_pending"
DRAWN = "drawn_digit"  # the last drawing the Draw page read, MNIST-style (28, 28) in [0, 1], for Inside
DRAWING_SEEN = "inside_drawing_seen"  # the serial of the last drawing the server kept that Inside has turned to
INSIDE_SOURCE = "inside_source"  # what the Inside page looks at: "drawing" or "test"
INSIDE_TEST = "inside_test"  # the test digit it looks at
TRAIN_ERROR = "train_error"  # why the last Train, Train more or Train more on our handwriting was refused
CLASS_ERROR = "d_class_error"  # why the last Add to the class collection was refused
NICKNAME_ERROR = "_nickname_error"  # why the last nickname was refused, shown in the box
NICKNAME_INPUT = "nickname_input"  # the sidebar's nickname box
NODE_LAYER, NODE_UNIT = "layer", "unit"  # a Draw node's link to its panel on Inside: ?layer=1&unit=37
PROJECTOR = "projector"  # whether this tab is the projected one (large type, no sidebar; ?projector=1)

DEFAULT_MODEL = "default"  # ships with the app (mnist_core/builtin_models)
# MNIST_APP_OPERATOR=1 makes every browser the teacher: honoured only on a server that listens on loopback alone
# (ui.browser.is_teacher; `serve` refuses it beyond loopback). Elsewhere the teacher enters the teacher code.
OPERATOR_SWITCH = os.environ.get("MNIST_APP_OPERATOR", "") == "1"
TEACHER_INPUT = "teacher_code_input"  # the sidebar's teacher code box
TEACHER_ERROR = "_teacher_error"  # why the last teacher code was refused
# How many browsers the server remembers a language, a current model and a last drawing for (the least recently
# seen forgotten first): a school's browsers fit; a script minting a cookie per request does not fill the memory.
OWNERS_KEPT = int(os.environ.get("MNIST_APP_OWNERS_KEPT", "5000"))
DRAWINGS_KEPT = int(os.environ.get("MNIST_APP_DRAWINGS_KEPT", "1000"))  # ~0.4 MB each (280x280 RGBA + strokes)
ORPHAN_SECONDS = float(os.environ.get("MNIST_APP_ORPHAN_SECONDS", "60"))  # owner gone this long: job stopped
