"""``ndgrad.training``'s guards against silent wrong values and lost work: splits that leave a
part empty, CSV headers and BOMs, values beyond float32, non-finite losses, Ctrl-C, resuming."""

from __future__ import annotations

import numpy as np
import pytest

from ndgrad import training
from ndgrad.training import FitCallback, InvalidSetting, ModelSpec, TrainingStopped, fit


@pytest.fixture(scope="module")
def iris():
    return training.load_split("iris", val_split=0.2, seed=0)


def test_split_rows_refuses_empty_or_classless_parts():
    train, val = training.split_rows(10, 0.2, seed=1)
    assert len(train) == 8 and len(val) == 2 and not set(train) & set(val)
    with pytest.raises(InvalidSetting, match="1 validation rows") as info:
        training.split_rows(442, 0.001)
    assert info.value.name == "val_split"
    labels = np.repeat([0, 1, 2], 50)
    with pytest.raises(InvalidSetting, match="one of each class"):
        training.split_rows(150, 0.01, stratify=labels)


def test_csv_header_rule_bom_and_float32(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")  # BOM, no header: both rows are data
    table = training.read_feature_table(path, 2)
    assert table.header is None and table.rows.tolist() == [[1, 2], [3, 4]]
    path.write_text("a,b\n1,2\n")
    table = training.read_feature_table(path, 2)
    assert table.header == ["a", "b"] and table.line_numbers == [2]
    path.write_text("a,2\n1,2\n")  # one number in the first row: data with a bad cell
    with pytest.raises(ValueError, match="row 1, column 1"):
        training.read_feature_table(path, 2)
    path.write_text("1,2\n3,-4e39\n")
    with pytest.raises(ValueError, match="row 2, column 2.*float32"):
        training.read_feature_table(path, 2)
    np.save(tmp_path / "x.npy", np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="row 1, column 2.*not finite"):
        training.read_features(tmp_path / "x.npy", 2)


class _CtrlC(FitCallback):
    """Presses Ctrl-C after epoch ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_end(self, stats) -> None:
        if stats.epoch == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_state_and_resume_continues(iris):
    spec = ModelSpec.for_split("softmax", iris)
    hyper = training.hyperparameters("softmax", "iris", epochs=5, optimizer="adam", lr=0.05)
    with pytest.raises(TrainingStopped, match="interrupted after epoch 2") as info:
        fit(spec, iris, hyper, callback=_CtrlC(at=2))
    kept = info.value.checkpoint
    assert info.value.reason == "interrupted" and kept.history.epochs == 2
    assert kept.hyperparameters.epochs == 2
    more = fit(spec, iris, training.hyperparameters("softmax", "iris", epochs=3,
                                                    optimizer="adam", lr=0.05), resume=kept)  # fmt: skip
    assert more.history.epochs == 5
    assert more.history.train_loss[:2] == kept.history.train_loss
    steps = float(kept.optimizer_state["state"][0]["step"])
    assert float(more.checkpoint.optimizer_state["state"][0]["step"]) == steps + 3 * 4  # 120/32


def test_a_non_finite_loss_stops_with_the_last_finite_checkpoint():
    split = training.load_split("diabetes", 0.2, seed=0)
    spec = ModelSpec.for_split("linreg", split)
    hyper = training.hyperparameters("linreg", "diabetes", lr=0.5, epochs=5)
    with pytest.raises(TrainingStopped, match="diverged") as info:
        fit(spec, split, hyper)
    kept = info.value.checkpoint
    assert info.value.reason == "diverged" and kept.history.epochs == info.value.epoch - 1
    assert np.isfinite(kept.train_metrics["loss"])
    model = kept.build_model()
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


def test_history_csv_round_trip(tmp_path, iris):
    result = fit(ModelSpec.for_split("softmax", iris),
                 iris, training.hyperparameters("softmax", "iris", epochs=2))  # fmt: skip
    path = training.write_history_csv(training.history_columns(result.history),
                                      tmp_path / "history.csv")  # fmt: skip
    lines = path.read_text().splitlines()
    assert lines[0].startswith("epoch,train loss (epoch end),validation loss")
    assert [float(v) for v in lines[2].split(",")[1:]] == [
        result.history.train_loss[1], result.history.val_loss[1],
        result.history.train_score[1], result.history.val_score[1],
    ]  # fmt: skip
    assert not list(tmp_path.glob(".*tmp"))
