import sys
import types

import pytest

from mnist_core.net.config import TrainConfig
from mnist_core.runs.child import child_context, LocalRunner, start_child, start_child_server
from mnist_core.runs.jobs import JobRegistry
from mnist_core.runs.snapshot import DONE, FAILED, QUEUED, RUNNING, STOPPED
from mnist_core.storage.models import ModelStore, StoreError

from .helpers import FAST, wait_for


@pytest.fixture
def registry(tmp_path, tiny):
    return JobRegistry(ModelStore(tmp_path / "models", builtin_dir=None), lambda: tiny,
                       train_digits=len(tiny.train_labels))




def test_a_job_trains_in_the_background_and_is_saved(registry):
    job = registry.submit("alice", TrainConfig(**FAST), name="m1")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == DONE and snap.saved and not snap.active
    assert [r.epoch for r in snap.history] == [1, 2]
    assert len(snap.batch_losses) == 2 * 30 and snap.batch == snap.batches == 30
    meta = registry.store.meta("m1")
    assert registry.store.owners.owns("alice", meta.owner) and "alice" not in meta.owner
    assert meta.epochs == 2 and not meta.stopped
    assert registry.get(job.id) is job and registry.jobs_of("alice") == [job] and registry.jobs_of("bob") == []
    # The live views: first-layer weights as trained, and a gradient report every 20 batches.
    assert snap.weights.shape == (16, 28, 28)
    stored, _, _ = registry.store.load("m1")
    trained = stored.linear_layers()[0].weight.detach().reshape(16, 28, 28).numpy()
    assert (snap.weights == trained).all()
    assert snap.grad_at == pytest.approx([20 / 30, 1.0, 1 + 20 / 30, 2.0])
    assert len(snap.grad_norms) == 4 and all(len(n) == 2 for n in snap.grad_norms)


def test_stop_ends_the_run_and_keeps_what_was_learned(registry):
    job = registry.submit("alice", TrainConfig(**{**FAST, "epochs": 50}), name="m2")
    wait_for(lambda: job.snapshot().batch >= 20)
    job.stop()
    assert job.wait_halted(10)  # training ended; saving may still be going on
    assert job.wait(10)
    snap = job.snapshot()
    assert snap.status == STOPPED and snap.saved and not snap.halted
    assert 1 <= len(snap.history) < 50
    assert registry.store.meta("m2").stopped


class StoppedAsItStarts(LocalRunner):
    """The real runner, with Stop pressed just as the run's child starts (while its data loads)."""

    def run(self, spec, data, send, stop, controls=None):
        stop.set()
        return super().run(spec, data, send, stop, controls)


def test_a_run_stopped_before_its_first_batch_saves_nothing(tmp_path, tiny):
    # No untrained model on the leaderboard, nor as anyone's current model.
    registry = JobRegistry(ModelStore(tmp_path / "models", builtin_dir=None), lambda: tiny,
                           train_digits=len(tiny.train_labels), runner=StoppedAsItStarts())
    job = registry.submit("alice", TrainConfig(**FAST), name="too-soon")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == STOPPED and not snap.saved and not snap.history
    assert "too-soon" not in [m.name for m in registry.store.list()]


def test_train_more_continues_the_same_model(registry):
    job = registry.submit("alice", TrainConfig(**FAST), name="m3")
    job.wait(60)
    job.start(epochs=1)
    job.wait(60)
    snap = job.snapshot()
    assert snap.status == DONE and [r.epoch for r in snap.history] == [1, 2, 3]
    assert len(snap.batch_losses) == 3 * 30
    assert registry.store.meta("m3").epochs == 3


def test_continue_a_stored_model_in_a_new_job(registry):
    registry.submit("alice", TrainConfig(**FAST), name="m4").wait(60)
    job = registry.submit("alice", TrainConfig(**FAST), continue_from="m4", epochs=1)
    job.wait(60)
    assert [r.epoch for r in job.snapshot().history] == [1, 2, 3]


def test_one_job_per_device_at_a_time_the_rest_queue(registry):
    first = registry.submit("alice", TrainConfig(**{**FAST, "epochs": 200}), name="long")
    wait_for(lambda: first.status == RUNNING)
    second = registry.submit("bob", TrainConfig(**FAST), name="waiting")
    third = registry.submit("carol", TrainConfig(**FAST), name="last")
    wait_for(lambda: third.snapshot().queue_position == 2)
    assert second.snapshot().status == QUEUED and second.snapshot().queue_position == 1
    third.stop()  # leaving the queue
    assert third.wait(5) and third.status == STOPPED and not registry.store.exists("last")
    first.stop()
    assert second.wait(60) and second.status == DONE


def test_names_are_checked_before_the_job_starts(registry):
    registry.submit("alice", TrainConfig(**FAST), name="taken").wait(60)
    with pytest.raises(StoreError, match="exists already"):
        registry.submit("bob", TrainConfig(**FAST), name="taken")
    with pytest.raises(StoreError, match="invalid model name"):
        registry.submit("bob", TrainConfig(**FAST), name="../x")
    auto = registry.submit("bob", TrainConfig(**FAST))
    assert auto.name.startswith("mlp-16-")
    auto.wait(60)


def test_a_failure_is_reported_not_raised(tmp_path):
    def broken():
        raise OSError("disk gone")

    registry = JobRegistry(ModelStore(tmp_path, builtin_dir=None), broken)
    job = registry.submit("alice", TrainConfig(**FAST), name="x")
    job.wait(10)
    assert job.status == FAILED and "disk gone" in job.snapshot().error
    assert registry.submit("alice", TrainConfig(**FAST), name="y").wait(10)  # the device slot was released


def test_a_run_with_drawn_digits_says_it_is_drawing_them_first(registry):
    job = registry.submit("alice", TrainConfig(**{**FAST, "epochs": 1}, drawn=0.5), name="drawn")
    said = set()
    while not job.wait(0.01):
        snap = job.snapshot()
        said.add((snap.preparing, snap.batches > 0))
    assert ("Drawing 150 training digits on a canvas, as people draw them (about 3 ms each, the first time only) …",
            False) in said
    assert all(not text for text, training in said if training)  # gone once the batches begin
    assert job.snapshot().status == DONE and registry.store.meta("drawn").config.drawn == 0.5


def _modules_at_start(sending) -> None:
    """Runs in a training child: which of the slow imports it found done already."""
    sending.send(sorted(m for m in ("torch", "torch._dynamo", "mnist_core.net.train") if m in sys.modules))
    sending.close()


def test_training_children_start_with_torch_and_dynamo_imported(tmp_path, monkeypatch):
    """A run's child comes from the fork server with torch and torch._dynamo (which building an optimizer
    imports, 1.6-2 s) loaded once there, not imported again by every run; and it does not run the parent's
    `__main__` script again (under Streamlit, or after an AppTest in this process, a page script that fails
    outside its session: here one that raises)."""
    start_child_server()  # as the Train page does before a run; the run then uses that fork server
    context = child_context()
    if context.get_start_method() != "forkserver":
        pytest.skip("no fork server on this platform: every run imports by itself")
    script = tmp_path / "page.py"
    script.write_text("raise KeyError('st.session_state has no key')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_modules_at_start, args=(sending,))
    start_child(child)
    sending.close()
    assert receiving.recv() == ["mnist_core.net.train", "torch", "torch._dynamo"]
    child.join(30)
    assert child.exitcode == 0
    assert sys.modules["__main__"] is page  # put back once the child started


def test_a_job_state_is_replaced_whole_by_each_message_never_changed():
    from mnist_core.net.history import EpochRecord, Progress
    from mnist_core.runs.jobs import JobState
    from mnist_core.runs.spec import EpochDone, Preparing, Report, Started

    first = JobState(name="m", config=TrainConfig(), device="cpu")
    preparing = first.received(Preparing("drawing"))
    started = preparing.received(Started(10, "cpu", "host pid 1", 1, None))
    reported = started.received(Report(Progress(1, 2, 5, 10, 0.5, batch_losses=[2.0, 1.5], grad_norms=[0.1, 0.2])))
    record = EpochRecord(1, 1.0, 0.5, 0.5, 0.5, 1.0)
    done = reported.received(EpochDone(record))
    assert (first.preparing, preparing.preparing, started.preparing) == ("", "drawing", "")
    assert started.batches_per_epoch == 10 and first.batches_per_epoch == 0
    assert reported.batch_losses == (2.0, 1.5) and reported.grad_at == (0.5,) and started.batch_losses == ()
    assert done.history == (record,) and reported.history == ()
    with pytest.raises(AttributeError):
        done.status = "running"  # frozen: a new state, never an edit
