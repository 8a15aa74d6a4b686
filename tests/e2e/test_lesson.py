"""A lesson as README tells it, in real browsers: the teacher (the operator's server) projects the join
panel and opens a class collection; two students, one on a phone (390x844, touch), open the address shown,
pick nicknames (the second tries the first's and is refused), draw, add; a share link opens elsewhere.
Every server listens on loopback only: the students' one on 127.0.0.3, opened as the join panel shows it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from mnist_core.classroom.addresses import is_loopback

from ..helpers import REAL_MNIST
from .helpers import (
    App,
    choose_nickname,
    in_view,
    main_button,
    open_app,
    shot,
    start_app,
    stroke,
    train_one_epoch,
    vertical_line,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.mnist]
STUDENTS_HOST = "127.0.0.3"


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lesson")
    drawings = {"MNIST_DRAWINGS": str(folder / "drawings")}
    students = start_app(tmp_path_factory, "students", drawings, host=STUDENTS_HOST)
    # README: the teacher's copy on the same folders, loopback only, told where the students' app is.
    teacher = App(students.store, REAL_MNIST, {**drawings, "MNIST_APP_OPERATOR": "1", "MNIST_APP_URL": students.url})
    yield students, teacher
    teacher.stop()
    students.stop()


def add_digit(page, digit: int) -> None:
    page.get_by_role("combobox", name="The digit I meant").click()
    page.get_by_role("option", name=str(digit), exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Add to the class collection").click()
    wait_idle(page)


def test_a_lesson_from_the_join_panel(school, browser):
    students, teacher = school
    # The teacher: the join panel on the projector, then the class collection.
    desk = browser.new_context(viewport={"width": 1440, "height": 900})
    projector = desk.new_page()
    projector.set_default_timeout(30_000)
    open_app(projector, teacher.url + "our_class")
    projector.get_by_test_id("stSidebar").get_by_role("button", name="Show how to join").click()
    shown = projector.get_by_test_id("join-address").inner_text().strip()
    assert shown == students.url  # the students' app, as the setting says
    qr = projector.get_by_test_id("join-qr")
    assert qr.bounding_box()["width"] >= 400  # big enough for the back row
    shot(projector, "lesson-1-join-panel", full_page=False)
    projector.keyboard.press("Escape")
    wait_idle(projector)
    projector.get_by_role("textbox", name="Class collection").fill("class-2026")
    main_button(projector, "Open for the class").click()
    projector.get_by_text(re.compile("The class collection class-2026 is open")).wait_for()
    wait_idle(projector)
    shot(projector, "lesson-2-class-open", full_page=False)

    # Ada, on a laptop, opens the address shown.
    laptop = browser.new_context(viewport={"width": 1440, "height": 900})
    ada = laptop.new_page()
    ada.set_default_timeout(30_000)
    open_app(ada, shown + "draw")
    choose_nickname(ada, "Ada")
    stroke(ada, vertical_line())
    add_digit(ada, 1)
    ada.get_by_text("You have added 1").wait_for()
    shot(ada, "lesson-3-ada-added", full_page=False)

    # Bo, on a phone: the shown address, the sidebar out of the way, the first nickname refused.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    bo = phone.new_page()
    bo.set_default_timeout(30_000)
    open_app(bo, shown)
    bo.locator('[data-testid="stSidebarNav"] a', has_text="Draw").wait_for(state="attached")
    choose_nickname(bo, "ADA", taken=True)
    shot(bo, "lesson-4-bo-refused", full_page=False)
    choose_nickname(bo, "Bo")
    bo.locator('[data-testid="stSidebarNav"] a', has_text="Draw").click()
    bo.get_by_role("heading", name="Draw a digit").wait_for()
    wait_idle(bo)
    bo.get_by_test_id("stExpandSidebarButton").wait_for()  # the sidebar closed itself once the page was chosen
    canvas = bo.locator("canvas.upper-canvas")
    box = canvas.bounding_box()
    touch = phone.new_cdp_session(bo)
    points = [(140, 50 + i * 9) for i in range(21)]

    def finger(kind: str, point: tuple[float, float] | None = None) -> None:
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [] if point is None else
                                                [{"x": box["x"] + point[0], "y": box["y"] + point[1]}]})

    finger("touchStart", points[0])
    for point in points[1:]:
        finger("touchMove", point)
    finger("touchEnd")
    bo.get_by_test_id("compact-answer").wait_for()
    wait_idle(bo)
    shot(bo, "lesson-5-bo-drew", full_page=False)
    add = bo.get_by_role("button", name="Add to the class collection")
    for what in (canvas, bo.get_by_test_id("compact-answer"), add):  # one screen: no scrolling
        assert in_view(bo, what), what
    for name in ("Undo", "Reset canvas & history"):
        button = bo.get_by_role("button", name=name)
        assert min(button.bounding_box()["width"], button.bounding_box()["height"]) >= 40, name
    add_digit(bo, 1)
    bo.get_by_text("You have added 1").wait_for()
    assert bo.get_by_role("combobox", name="The digit I meant").input_value() == ""  # asked afresh
    shot(bo, "lesson-6-bo-added", full_page=False)

    # The projector counts both; the roster lists them.
    projector.get_by_text(re.compile(r"2 drawings by 2 people")).wait_for(timeout=20_000)
    shot(projector, "lesson-7-class-grew", full_page=False)

    # Ada trains and shares her run: the link is one another device opens (not loopback), on her server.
    ada.locator('[data-testid="stSidebarNav"] a', has_text="Train").click()
    ada.get_by_role("heading", name="Train a network").wait_for()
    wait_idle(ada)
    train_one_epoch(ada, "ada-net", timeout=180_000)
    link = ada.get_by_test_id("share-link").inner_text().strip().strip("`")
    parts = urlsplit(link)
    assert not is_loopback(parts.hostname) and parts.port == students.port and "job=" in parts.query, link
    assert ada.get_by_test_id("share-qr").count() == 1
    shot(ada, "lesson-8-share-link", full_page=False)
    bo.goto(f"http://{STUDENTS_HOST}:{parts.port}/?{parts.query}")  # as the link, through loopback
    bo.get_by_text("You are watching someone else's run (read-only).").wait_for()
    wait_idle(bo)
    shot(bo, "lesson-9-bo-watches", full_page=False)
    for context in (desk, laptop, phone):
        context.close()
