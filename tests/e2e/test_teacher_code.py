"""The teacher code in real browsers (issue 26): the app prints it once on its console; a student's browser
without it sees no teacher controls and a wrong code is one line; the browser that enters it gets the Class
page's Open button, and keeps it after a reload (its cookie), while the student still has none."""

from __future__ import annotations

import re

import pytest

from .helpers import main_button, open_app, shot, start_app, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.mnist]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    drawings = tmp_path_factory.mktemp("teacher-code-drawings")
    running = start_app(tmp_path_factory, "teacher-code", {"MNIST_DRAWINGS": str(drawings)})
    yield running
    running.stop()


def new_page(browser, phone: bool = False):
    context = browser.new_context(**({"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
                                     if phone else {"viewport": {"width": 1440, "height": 900}}))
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def enter(page, code: str) -> None:
    page.get_by_test_id("stSidebar").get_by_role("button", name=re.compile("I'm the teacher")).click()
    page.get_by_role("textbox", name="Teacher code").fill(code)
    page.get_by_role("button", name="Enter", exact=True).click()
    wait_idle(page)


def test_only_the_browser_with_the_teacher_code_gets_the_teacher_controls(app, browser):
    student_context, student = new_page(browser)
    open_app(student, app.url + "our_class")
    found = re.search(r"Teacher code: (\S+)", open(app.log.name).read())
    assert found, "the app prints its teacher code once at start"
    code = found.group(1)
    assert main_button(student, "Open for the class").count() == 0
    student.get_by_text("the teacher opens one").first.wait_for()
    enter(student, code + "x")
    student.get_by_text("That is not the teacher code").wait_for()
    assert main_button(student, "Open for the class").count() == 0
    shot(student, "teacher-student-wrong-code")

    teacher_context, teacher = new_page(browser)
    open_app(teacher, app.url + "our_class")
    enter(teacher, code)
    main_button(teacher, "Open for the class").wait_for()
    teacher.get_by_test_id("stSidebar").get_by_role("button", name=re.compile("You are the teacher")).wait_for()
    shot(teacher, "teacher-teacher")
    teacher.reload()  # a new session of the same browser: its cookie keeps it the teacher
    teacher.get_by_test_id("stMainBlockContainer").wait_for()
    main_button(teacher, "Open for the class").wait_for()
    main_button(teacher, "Open for the class").click()
    teacher.get_by_text(re.compile("is open")).first.wait_for()

    student.reload()
    student.get_by_test_id("stMainBlockContainer").wait_for()
    student.get_by_text(re.compile("is open: add drawings on the Draw page")).wait_for()
    wait_idle(student)
    assert main_button(student, "Open for the class").count() == 0 and main_button(student, "Close it").count() == 0
    shot(student, "teacher-student-after")
    phone_context, phone = new_page(browser, phone=True)  # a student's phone: the page without teacher controls
    open_app(phone, app.url + "our_class")
    assert main_button(phone, "Open for the class").count() == 0
    shot(phone, "teacher-student-phone")
    phone_context.close()
    assert open(app.log.name).read().count("Teacher code:") == 1  # printed once, not per session
    student_context.close()
    teacher_context.close()
