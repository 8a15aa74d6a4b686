"""Issue #26: the teacher is a browser that entered the teacher code, not a server switch (classroom/teacher.py)."""

from __future__ import annotations

import pytest

from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.teacher import check_operator_switch, CODE_FILE, is_loopback, TEACHERS, Teachers


def test_the_browser_that_enters_the_code_is_the_teacher_and_no_other(tmp_path):
    teachers = Teachers(tmp_path, environ={})
    code = teachers.code()
    assert len(code) >= 12 and Teachers(tmp_path, environ={}).code() == code  # one per folder, for every process
    assert (tmp_path / CODE_FILE).stat().st_mode & 0o077 == 0
    with pytest.raises(ClassError, match="not the teacher code"):
        teachers.enter("student-key", code[:-1] + ("y" if code.endswith("x") else "x"))  # one letter off, always
    assert not teachers.is_teacher("student-key")
    teachers.enter("teacher-key", f" {code} ")
    assert teachers.is_teacher("teacher-key") and not teachers.is_teacher("student-key")
    assert "teacher-key" not in (tmp_path / TEACHERS).read_text()  # its tag, never its key
    teachers.leave("teacher-key")
    assert not teachers.is_teacher("teacher-key")


def test_the_operator_sets_the_code(tmp_path):
    teachers = Teachers(tmp_path, environ={"MNIST_APP_TEACHER_CODE": "blackboard-42"})
    assert teachers.code() == "blackboard-42"
    teachers.enter("t", "blackboard-42")
    assert teachers.is_teacher("t") and not (tmp_path / CODE_FILE).exists()


def test_the_operator_switch_is_refused_beyond_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_operator_switch("127.0.0.1", {"MNIST_APP_OPERATOR": "1"})
    check_operator_switch("0.0.0.0", {})
    with pytest.raises(ClassError, match="refused on 0.0.0.0") as refused:
        check_operator_switch("0.0.0.0", {"MNIST_APP_OPERATOR": "1"})
    assert "\n" not in str(refused.value)
