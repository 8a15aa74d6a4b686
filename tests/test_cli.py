import io
import json
import subprocess
import sys

import pytest

from mnist_core.cli import main
from mnist_core.net.config import TrainConfig
from mnist_core.net.history import EpochRecord
from mnist_core.storage.models import ModelStore

from .helpers import PROJECT


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def trained(tiny_dir, tmp_path, capsys):
    store = tmp_path / "models"
    code, out, _ = run(capsys, "train", "--epochs", "2", "--hidden", "16", "--batch-size", "20", "--data-dir",
                       str(tiny_dir), "--store", str(store), "--name", "tiny", "--json", "--device", "cpu")
    assert code == 0
    return store, out


def test_train_json_prints_one_object_per_epoch(trained):
    store, out = trained
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert set(lines[0]) == {"epoch", "loss", "train_f1", "test_f1", "test_accuracy", "seconds", "grad_norms",
                             "dead_share", "fraction"}
    assert [r["fraction"] for r in lines] == [1.0, 1.0]  # whole epochs: no Stop cut one short
    assert len(lines[0]["grad_norms"]) == 2 and len(lines[0]["dead_share"]) == 1  # 784-16-10
    assert ModelStore(store).meta("tiny").history[1].test_f1 == lines[1]["test_f1"]


def test_train_prints_a_line_per_epoch(tiny_dir, tmp_path, capsys):
    code, out, err = run(capsys, "train", "--epochs", "1", "--hidden", "8", "--data-dir", str(tiny_dir),
                         "--store", str(tmp_path), "--name", "x")
    assert code == 0 and out.startswith("Epoch 1/1: loss ") and "test F1" in out and "Saved model 'x'" in err
    # The settings in the same words as the Train page and the leaderboard (TrainConfig.summary).
    assert "Settings: layers 784-8-10; activation relu; optimizer adam, lr 0.003, one-cycle; batch size 128" in err


def test_train_with_drawn_digits_says_so_and_keeps_the_setting(tiny_dir, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--epochs", "1", "--hidden", "8", "--data-dir", str(tiny_dir),
                       "--store", str(tmp_path), "--name", "d", "--drawn", "0.1", "--device", "cpu", "--augment",
                       "0.5", "--fill-in")
    assert code == 0 and "Drawing 30 training digits on a canvas" in err and "Drawn in" in err
    config = ModelStore(tmp_path).meta("d").config
    assert config.drawn == 0.1 and config.fill_in is True and config.augment == 0.5


def test_models_and_evaluate(trained, tiny_dir, capsys):
    store, _ = trained
    code, out, _ = run(capsys, "models", "--store", str(store), "--json")
    listed = json.loads(out)
    assert code == 0 and [m["name"] for m in listed if not m.get("builtin")] == ["tiny"]
    code, out, _ = run(capsys, "models", "--store", str(store))
    assert "tiny" in out and "784-16-10" in out
    code, out, _ = run(capsys, "evaluate", "--model", "tiny", "--store", str(store), "--data-dir", str(tiny_dir),
                       "--json")
    result = json.loads(out)
    assert code == 0 and result["model"] == "tiny" and len(result["confusion"]) == 10
    assert sum(map(sum, result["confusion"])) == 100
    code, out, _ = run(capsys, "evaluate", "--model", "tiny", "--store", str(store), "--data-dir", str(tiny_dir))
    assert "accuracy" in out and "confusion" in out



def test_evaluate_prints_robustness_curves_like_the_engine(trained, tiny_dir, capsys):
    from mnist_core.net.data import load_mnist
    from mnist_core.net.perturb import robustness_curve

    store, _ = trained
    code, out, _ = run(capsys, "evaluate", "--model", "tiny", "--store", str(store), "--data-dir", str(tiny_dir),
                       "--json", "--robustness", "shift", "noise")
    curves = json.loads(out)["robustness"]
    data = load_mnist(tiny_dir)
    model, _, _ = ModelStore(store).load("tiny")
    expected = robustness_curve(model, data.test_images, data.test_labels, "shift")
    assert code == 0 and set(curves) == {"shift", "noise"}
    assert [(p["level"], p["accuracy"]) for p in curves["shift"]] == expected
    code, out, _ = run(capsys, "evaluate", "--model", "tiny", "--store", str(store), "--data-dir", str(tiny_dir),
                       "--robustness", "rotation")
    assert code == 0 and "accuracy under rotation (degrees): 0: " in out


@pytest.mark.parametrize("args, message", [
    (["train", "--device", "cuda:9"], "device 'cuda:9' is not available"),
    (["train", "--lr", "0"], "learning rate"),
    (["train", "--drawn", "2"], "share of drawn digits must be in [0, 1], got 2.0"),
    (["train", "--name", "../evil"], "invalid model name"),
    (["evaluate", "--model", "nothere"], "no model named 'nothere'"),
    (["train", "--data-dir", "/nonexistent/mnist"], "missing in /nonexistent/mnist"),
])
def test_user_mistakes_get_a_message_and_exit_2(args, message, tmp_path, capsys):
    code, out, err = run(capsys, *args, "--store", str(tmp_path))
    assert code == 2 and message in err and "Traceback" not in err


def test_name_taken_is_refused_before_training(trained, tiny_dir, capsys):
    store, _ = trained
    code, _, err = run(capsys, "train", "--data-dir", str(tiny_dir), "--store", str(store), "--name", "tiny")
    assert code == 2 and "exists already" in err


def test_bad_hidden_sizes_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--hidden", "12,abc"])
    assert exit_.value.code == 2 and "comma-separated whole numbers" in capsys.readouterr().err


def test_runs_as_a_module_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mnist_core", "evaluate", "--model", "x", "--store", str(tmp_path)],
                            capture_output=True, text=True, cwd=PROJECT)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_predict_reads_files_in_order_and_reports_each_failure(trained, tmp_path, capsys):
    from PIL import Image

    from .helpers import draw_seven

    store, _ = trained
    drawn, blank, text = tmp_path / "seven.png", tmp_path / "blank.png", tmp_path / "notes.txt"
    Image.fromarray(draw_seven()).save(drawn)
    Image.new("RGB", (100, 100), "white").save(blank)
    text.write_text("not an image")
    code, out, err = run(capsys, "predict", "--model", "tiny", "--store", str(store), "--json",
                         str(drawn), str(text), str(blank))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [line["file"] for line in lines] == [str(drawn), str(text), str(blank)]
    assert isinstance(lines[0]["digit"], int) and len(lines[0]["probabilities"]) == 10
    assert abs(sum(lines[0]["probabilities"]) - 1) < 1e-5 and lines[0]["blank"] is False
    assert "not an image file" in lines[1]["error"] and "not an image file" in err
    assert lines[2] == {"file": str(blank), "digit": None, "probabilities": [0.0] * 10, "blank": True}
    code, out, _ = run(capsys, "predict", "--model", "tiny", "--store", str(store), str(drawn), str(blank))
    assert code == 0 and out.splitlines()[1].endswith("blank (no digit found)")


def test_models_json_into_a_pipe_closed_early_exits_quietly(tmp_path):
    """`models --json | head -c 10`: the reader leaves after 10 bytes; no BrokenPipeError traceback."""
    from mnist_core.net.model import MLP
    from mnist_core.storage.models import ModelMeta

    store = ModelStore(tmp_path, builtin_dir=None)
    model = MLP((4,))
    history = [EpochRecord(i, 0.1, 0.5, 0.5, 0.5, 1.0, grad_norms=[0.1] * 20) for i in range(2000)]  # ~500 KB of JSON
    store.save(model, ModelMeta(name="long", model=model.config(), config=TrainConfig(), history=history))
    done = subprocess.run(f"{sys.executable} -m mnist_core models --json --store {tmp_path} | head -c 10",
                          shell=True, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.stdout == '[{"name": ' and done.stderr == ""


def test_any_oserror_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    def failing(self):
        raise OSError(5, "Input/output error", str(tmp_path))

    monkeypatch.setattr(ModelStore, "list", failing)
    code, out, err = run(capsys, "models", "--store", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "Input/output error" in err


def test_train_into_a_store_that_is_a_file_is_refused_before_training(tiny_dir, tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, out, err = run(capsys, "train", "--epochs", "1", "--hidden", "8", "--data-dir", str(tiny_dir),
                         "--store", str(blocker), "--name", "m", "--device", "cpu")
    assert code == 2 and "Epoch" not in out and err.count("\n") == 1 and err.startswith("error: ")


def test_a_name_taken_while_the_run_trained_keeps_the_run_under_a_free_name(tiny_dir, tmp_path, capsys, monkeypatch):
    import mnist_core.cli as cli
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.model import MLP
    from mnist_core.storage.models import ModelMeta

    store = ModelStore(tmp_path)
    real_train_run = cli.train_run

    def another_process_saves_the_name_meanwhile(*args, **kwargs):
        result = real_train_run(*args, **kwargs)
        model = MLP((4,))
        store.save(model, ModelMeta(name="same", model=model.config(), config=TrainConfig()))
        return result

    monkeypatch.setattr(cli, "train_run", another_process_saves_the_name_meanwhile)
    code, _, err = run(capsys, "train", "--epochs", "1", "--hidden", "8", "--data-dir", str(tiny_dir), "--store",
                       str(tmp_path), "--name", "same", "--device", "cpu")
    assert code == 0 and "'same' was taken while this run trained; saved as 'same-2'" in err
    assert store.meta("same").model["hidden"] == [4] and store.meta("same-2").model["hidden"] == [8]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_training_bar_is_tqdm_on_a_terminal_and_silent_in_a_pipe():
    from mnist_core.cli import ProgressBar
    from mnist_core.net.history import Progress

    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream)
        bar(Progress(epoch=1, epochs=2, batch=5, batches=10, seconds=0.1, batch_losses=[0.5, 0.25]))
        bar(Progress(epoch=1, epochs=2, batch=10, batches=10, seconds=0.2, batch_losses=[0.125]))
    shown = terminal.getvalue()
    assert "Epoch 1/2" in shown and "/10 [00:00" in shown and "batch/s" in shown  # tqdm's own layout
    assert pipe.getvalue() == ""
