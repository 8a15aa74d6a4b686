"""The address students open (mnist_core.classroom.addresses): never the teacher's loopback one."""

from __future__ import annotations

import ipaddress

import pytest

from mnist_core.classroom.addresses import is_loopback, network_addresses, qr_png, student_addresses


@pytest.mark.parametrize("url", ["http://localhost:8501/", "http://127.0.0.1:8501/draw?x=1", "http://[::1]:8501/",
                                 "http://0.0.0.0:8501/"])
def test_a_loopback_browser_address_gives_this_machines_network_addresses(url):
    found = student_addresses(url, port=9999, network=["10.0.0.7", "192.168.1.20"])
    assert found.urls == ("http://10.0.0.7:8501/", "http://192.168.1.20:8501/")  # the port the browser used
    assert found.reachable
    assert found.link(job="abc123") == "http://10.0.0.7:8501/?job=abc123"


def test_the_address_the_teachers_browser_used_is_kept_when_it_is_not_loopback():
    found = student_addresses("http://10.1.2.3:8501/draw?job=old", network=["192.168.1.20"])
    assert found.urls == ("http://10.1.2.3:8501/",)  # the app's root, not the page nor the old query
    assert student_addresses("https://digits.school.example/leaderboard", network=[]).main == \
        "https://digits.school.example/"


def test_a_schools_own_name_wins_over_everything():
    found = student_addresses("http://127.0.0.1:8501/", setting="digits.school.example", network=["10.0.0.7"])
    assert found.urls == ("http://digits.school.example/",)
    assert student_addresses(None, setting="https://x.example/app", network=[]).link(job="j") == \
        "https://x.example/app/?job=j"


def test_no_network_address_says_so_and_no_browser_uses_the_servers_port():
    found = student_addresses(None, port=8600, network=[])
    assert found.urls == ("http://localhost:8600/",) and not found.reachable
    assert student_addresses(None, port=8600, network=["10.0.0.7"], path="/mnist").main == "http://10.0.0.7:8600/mnist/"


def test_loopback_names():
    assert all(map(is_loopback, ["localhost", "127.0.0.5", "::1", "[::1]", "0.0.0.0", "app.localhost", None]))
    assert not any(map(is_loopback, ["10.0.0.1", "digits.school.example", "192.168.0.2"]))


def test_this_machines_addresses_are_real_non_loopback_ipv4_addresses():
    for address in network_addresses():  # read from the interfaces; nothing is contacted
        parsed = ipaddress.ip_address(address)
        assert parsed.version == 4 and not parsed.is_loopback and not parsed.is_link_local


def test_the_qr_code_is_a_png_about_as_wide_as_asked():
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(qr_png("http://10.0.0.7:8501/?job=abc", 520)))
    assert picture.format == "PNG" and picture.width == picture.height
    assert 400 <= picture.width <= 520  # whole modules: at most one module per side short of the ask
