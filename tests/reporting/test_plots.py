from goemox.training.report import plot_training_curve, training_curves

HISTORY = [
    {"loss": 0.8, "epoch": 1.0, "step": 10},
    {"eval_loss": 0.7, "eval_macro_f1": 0.3, "epoch": 1.0, "step": 10},
    {"loss": 0.5, "epoch": 2.0, "step": 20},
    {"eval_loss": 0.6, "eval_macro_f1": 0.5, "epoch": 2.0, "step": 20},
    {"train_runtime": 3.0, "epoch": 2.0, "step": 20},
]


def test_curves_per_epoch():
    curves = training_curves(HISTORY)
    assert curves == {
        "train_loss": {1.0: 0.8, 2.0: 0.5},
        "eval_loss": {1.0: 0.7, 2.0: 0.6},
        "eval_macro_f1": {1.0: 0.3, 2.0: 0.5},
    }


def test_png_is_written(tmp_path):
    path = plot_training_curve(HISTORY, tmp_path / "curve.png", best_epoch=2.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
