"""``ndgrad.training`` from Python, without the CLI: specs, fit, metrics, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import training
from ndgrad.training import (
    Checkpoint,
    FitCallback,
    Hyperparameters,
    InvalidSetting,
    ModelSpec,
    fit,
    load_checkpoint,
    load_split,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def digits():
    return load_split("digits", val_split=0.2, seed=0)


@pytest.fixture(scope="module")
def softmax_result(digits):
    spec = ModelSpec.for_split("softmax", digits)
    hyper = training.hyperparameters("softmax", "digits", epochs=2)
    return fit(spec, digits, hyper, seed=0)


def test_spec_for_digits(digits):
    spec = ModelSpec.for_split("softmax", digits)
    assert spec == ModelSpec("softmax", 64, 10, (), "classification", "cross_entropy")
    assert spec.to_dict() == {
        "model": "softmax", "in_features": 64, "out_features": 10, "hidden": [],
        "task": "classification", "loss": "cross_entropy",
    }  # fmt: skip
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    mlp = ModelSpec.for_split("mlp", digits, hidden=[32])
    assert mlp.hidden == (32,)
    assert [type(m).__name__ for m in training.build_model(mlp)] == ["Linear", "ReLU", "Linear"]


def test_fit_softmax_on_digits(softmax_result, digits):
    result = softmax_result
    assert result.history.epochs == 2
    assert list(result.history.to_dict()) == [
        "train loss", "validation loss", "train accuracy", "validation accuracy",
    ]  # fmt: skip
    accuracy = result.metrics["validation"]["accuracy"]
    assert accuracy >= 0.85, accuracy
    assert result.history.val_score[-1] == accuracy
    assert result.history.train_loss[-1] < result.history.train_loss[0] + 1e-9
    # metrics recomputed from the model agree with the recorded ones
    again = training.evaluate(result.model, result.spec, result.checkpoint.scaling, digits)
    assert again["validation"]["accuracy"] == pytest.approx(accuracy)


def test_callback_sees_every_batch_and_epoch(digits):
    events: list[tuple] = []

    class Recorder(FitCallback):
        def on_epoch_start(self, epoch, epochs, batches):
            events.append(("start", epoch, epochs, batches))

        def on_batch_end(self, stats):
            events.append(("batch", stats.epoch, stats.batch, stats.accuracy is not None))

        def on_epoch_end(self, stats):
            events.append(("end", stats.epoch, stats.val_name, sorted(stats.validation)))

    spec = ModelSpec.for_split("softmax", digits)
    fit(spec, digits, Hyperparameters(epochs=2, lr=0.1, batch_size=512), callback=Recorder())
    batches = -(-len(digits.X_train) // 512)
    assert events[0] == ("start", 1, 2, batches)
    assert sum(e[0] == "batch" for e in events) == 2 * batches
    assert all(e[3] for e in events if e[0] == "batch")
    assert events[-1] == ("end", 2, "validation", ["accuracy", "loss"])


def test_checkpoint_round_trip_gives_identical_predictions(softmax_result, digits, tmp_path):
    result = softmax_result
    path = save_checkpoint(result.checkpoint, tmp_path / training.CHECKPOINT_NAME)
    raw = ndgrad.load(path)
    assert raw["kind"] == training.CHECKPOINT_KIND and raw["version"] == 1
    assert raw["hyperparameters"] == {
        "epochs": 2, "lr": 0.1, "batch_size": 32, "optimizer": "sgd", "weight_decay": 0.0,
        "seed": 0, "val_split": 0.2,
    }  # fmt: skip
    loaded = load_checkpoint(path)
    assert isinstance(loaded, Checkpoint)
    assert loaded.spec == result.spec and loaded.metrics == result.metrics
    assert loaded.history == result.history
    model = loaded.build_model()
    before = result.checkpoint.predict(result.model, digits.X_val)
    after = loaded.predict(model, digits.X_val)
    np.testing.assert_array_equal(before.classes, after.classes)
    np.testing.assert_array_equal(before.probs, after.probs)


def test_regression_predictions_come_back_on_the_raw_scale(tmp_path):
    result = training.train("linreg", "synthetic", seed=0)  # the defaults for the pair
    path = save_checkpoint(result.checkpoint, tmp_path / "lin.ndgrad")
    ckpt = load_checkpoint(path)
    values = ckpt.predict(ckpt.build_model(), np.array([[0.0, 0.0], [1.0, 1.0]])).values
    np.testing.assert_allclose(values, [4.2, 4.2 + 2 - 3.4], atol=0.05)
    assert result.metrics["validation"]["r2"] > 0.99


def test_bad_specs_raise_value_error_with_a_clear_message(digits):
    with pytest.raises(ValueError, match=r"unknown model 'vgg'; choose from: linreg"):
        ModelSpec("vgg", 64, 10)
    with pytest.raises(ValueError, match="softmax trains with cross_entropy, not 'mse'"):
        ModelSpec("softmax", 64, 10, task="regression", loss="mse")
    with pytest.raises(ValueError, match="in_features must be at least 1, got 0"):
        ModelSpec("softmax", 0, 10)
    with pytest.raises(ValueError, match="softmax has no hidden layers"):
        ModelSpec("softmax", 64, 10, hidden=(8,))
    with pytest.raises(InvalidSetting, match=r"hidden must list positive layer widths, got \[0\]"):
        ModelSpec("mlp", 64, 10, hidden=(0,))
    with pytest.raises(ValueError, match="linreg needs a regression dataset"):
        ModelSpec.for_split("linreg", digits)
    with pytest.raises(ValueError, match="logistic regression needs 2 classes; 'digits' has 10"):
        ModelSpec.for_split("logistic", digits)
    with pytest.raises(ValueError, match="the model takes 3 features but 'digits' has 64"):
        fit(ModelSpec("softmax", 3, 10), digits, Hyperparameters(1, 0.1, 32))


def test_bad_settings_raise_value_error_naming_the_setting():
    with pytest.raises(InvalidSetting, match="lr must be a positive number, got -1") as info:
        training.hyperparameters("softmax", "digits", lr=-1)
    assert isinstance(info.value, ValueError) and info.value.name == "lr"
    with pytest.raises(ValueError, match="epochs must be at least 1, got 0"):
        Hyperparameters(epochs=0, lr=0.1, batch_size=32)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; choose from: sgd, adam"):
        Hyperparameters(epochs=1, lr=0.1, batch_size=32, optimizer="rmsprop")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load_split("imagenet")
    with pytest.raises(ValueError, match="val_split must lie strictly between 0 and 1"):
        load_split("digits", val_split=1.5)


def test_hyperparameter_defaults():
    assert training.hyperparameters("mlp", "digits") == Hyperparameters(20, 1e-3, 64, "adam")
    assert training.hyperparameters("mlp", "fashion-mnist").batch_size == 256
    assert training.hyperparameters("linreg", "synthetic", epochs=7) == Hyperparameters(
        7, 0.03, 10, "sgd"
    )


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.ndgrad")
    ndgrad.save({"weights": ndgrad.ones(3)}, tmp_path / "other.ndgrad")
    with pytest.raises(ValueError, match="not a checkpoint written by ndgrad train"):
        load_checkpoint(tmp_path / "other.ndgrad")
