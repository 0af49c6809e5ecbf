"""``ndgrad train transformer --data reverse``: a Transformer encoder learns to reverse
strings of 8 digits (an offline sequence task) to >= 0.99 token accuracy; its checkpoint
evaluates to the same numbers; sequence data and models are only used together."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import ndgrad
from ndgrad import training
from ndgrad.cli import _register_subcommands, app

_register_subcommands()
runner = CliRunner()


def test_reverse_dataset_is_digit_strings_and_their_reversal():
    split = training.load_split("reverse", 0.2, 0)
    assert split.is_sequence and split.num_features == 8 and split.num_classes == 10
    assert split.X_train.shape == (4000, 8) and split.y_train.shape == (4000, 8)
    np.testing.assert_array_equal(split.X_val[:, ::-1], split.y_val)


def test_sequence_transformer_scores_every_position():
    spec = training.ModelSpec("transformer", 8, 10)
    net = training.build_model(spec)
    out = net(ndgrad.tensor(np.arange(16, dtype=np.float32).reshape(2, 8) % 10))
    assert tuple(out.shape) == (2, 10, 8)
    assert "encoder.layers.1.self_attn.in_proj_weight" in net.state_dict()


def test_train_transformer_reverses_digit_strings(tmp_path):
    result = runner.invoke(
        app,
        ["train", "transformer", "--data", "reverse", "--epochs", "1", "--out", str(tmp_path),
         "--no-plots", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout[result.stdout.index("{") :])["metrics"]
    assert metrics["validation"]["accuracy"] >= 0.99, metrics
    again = runner.invoke(app, ["evaluate", str(tmp_path / "checkpoint.ndgrad"), "--json"])
    assert again.exit_code == 0, again.output
    evaluated = json.loads(again.stdout[again.stdout.index("{") :])["metrics"]
    assert evaluated["validation"]["accuracy"] == pytest.approx(metrics["validation"]["accuracy"])


@pytest.mark.parametrize("model,data", [("mlp", "reverse"), ("transformer", "iris")])
def test_sequence_models_and_data_only_go_together(model, data):
    split = training.load_split(data, 0.2, 0)
    with pytest.raises(ValueError, match="sequence"):
        training.ModelSpec.for_split(model, split)
