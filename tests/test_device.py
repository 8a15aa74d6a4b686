import pytest
import torch

from mnist_core.net.device import (
    available_devices,
    busy_cpus,
    CpuThreads,
    DeviceError,
    free_cpus,
    resolve_device,
    training_threads,
    usable_cpus,
)


def test_cpu_is_always_there_and_last():
    assert available_devices()[-1] == "cpu"


def test_auto_picks_the_first_present_device():
    assert str(resolve_device("auto")) == available_devices()[0]
    assert resolve_device("CPU") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda:7", "tpu", "mps"])
def test_absent_device_is_a_clear_error(name):
    if name in available_devices():
        pytest.skip(f"{name} exists here")
    with pytest.raises(DeviceError, match=f"'{name}' is not available here; choose one of: auto,.*cpu"):
        resolve_device(name)


def _stat(tmp_path, *cpus: tuple[int, int]):
    """A /proc/stat-format file with (busy, idle) jiffies per CPU."""
    lines = ["cpu  1 0 0 1 0 0 0 0 0 0"]
    lines += [f"cpu{i} {busy} 0 0 {idle} 0 0 0 0 0 0" for i, (busy, idle) in enumerate(cpus)]
    path = tmp_path / "stat"
    path.write_text("\n".join(lines + ["intr 0"]) + "\n")
    return path


@pytest.mark.parametrize("busy, usable, threads", [
    (0.0, 2, 2), (0.1, 2, 2), (0.25, 2, 2),  # a quiet machine: every CPU
    (0.35, 2, 1), (1.0, 2, 1), (2.0, 2, 1), (5.0, 2, 1),  # one CPU taken (or more): fewer, never none
    (1.0, 16, 15), (3.6, 16, 12), (0.0, 1, 1),
])
def test_free_cpus_leave_out_the_busy_ones(busy, usable, threads):
    assert free_cpus(busy, usable) == threads


def test_busy_cpus_reads_the_window_from_proc_stat(tmp_path, monkeypatch):
    import mnist_core.net.device as device

    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: {0, 1})
    readings = iter([_stat(tmp_path, (100, 100), (100, 100)).read_text(),
                     _stat(tmp_path, (200, 100), (110, 190)).read_text()])  # cpu0 all busy, cpu1 a tenth

    class Stat:
        def read_text(self):
            return next(readings)

    assert busy_cpus(0.0, stat=Stat()) == pytest.approx(2 * 110 / 200)


def test_busy_cpus_is_zero_where_proc_stat_is_missing(tmp_path):
    assert busy_cpus(0.0, stat=tmp_path / "absent") == 0.0


def test_usable_cpus_obeys_a_container_quota(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs: two threads may run
    assert usable_cpus(quota) == min(2, usable_cpus(tmp_path / "absent"))
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == usable_cpus(tmp_path / "absent")


def test_a_busy_cpu_takes_a_thread_from_training():
    import subprocess
    import sys

    if usable_cpus() < 2:
        pytest.skip("one CPU only")
    before = busy_cpus(0.5)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(usable_cpus())]
    try:
        assert training_threads(0.5) == 1  # every CPU taken by another process: one thread
        assert busy_cpus(0.5) >= min(usable_cpus(), before + 1) - 0.5
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_what_this_process_uses_is_not_counted_as_others_load(tmp_path):
    threads = CpuThreads(fixed=1, stat=tmp_path / "absent")
    threads.cpus = {0, 1}
    # Over one second the two CPUs were busy 150 of 200 jiffies (1.5 CPUs), a quarter CPU of it ours.
    assert threads.others_busy((0, 0, 0.0), (150, 200, 0.25), 1.0) == pytest.approx(1.25)
    assert threads.others_busy((0, 0, 0.0), (150, 200, 2.0), 1.0) == 0.0  # never below nothing


def test_threads_follow_other_processes_during_a_run():
    import subprocess
    import sys
    import time

    if usable_cpus() < 2:
        pytest.skip("one CPU only")
    before = torch.get_num_threads()
    threads = CpuThreads(every=0.5)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(usable_cpus())]
    try:
        time.sleep(0.6)
        threads.adjust()  # the first window may have started before the spinners
        time.sleep(0.6)
        assert threads.adjust() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_a_fixed_thread_count_stays():
    before = torch.get_num_threads()
    try:
        threads = CpuThreads(fixed=2, every=0.0)
        assert threads.adjust() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
