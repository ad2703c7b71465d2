"""`goemox train` and `goemox search` as a user runs them: option checks, resuming, run records."""

import pytest


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--pos_weight_cap", "0.5"], "--pos_weight_cap must be at least 1, got 0.5"),
        (["--label_smoothing_factor", "1.5"], "--label_smoothing_factor must be at least 0 and below 1, got 1.5"),
        (["--pos_weight_strategy", "explicit"], "--pos_weight_strategy explicit needs --pos_weight_values"),
        (["--learning_rate", "0"], "--learning_rate must be above 0, got 0.0"),
        (["--num_train_epochs", "0"], "--num_train_epochs must be above 0 (or set --max_steps), got 0.0"),
        (["--max_length", "0"], "--max_length must be at least 1, got 0"),
        (["--pooling", "max"], "--pooling"),
        (["--classifier_dropout", "1"], "--classifier_dropout must be at least 0 and below 1, got 1.0"),
    ],
)
def test_bad_options_stop_with_one_line_and_save_nothing(options, message, goemox_cli, tmp_path):
    out = tmp_path / "run"
    result = goemox_cli("train", "--dataset", "demo", "--output_dir", str(out), "--use_cpu", *options)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_max_length_above_the_encoder_limit_stops_before_any_data_is_read(goemox_cli, tmp_path, tiny_encoder_factory):
    out = tmp_path / "run"
    result = goemox_cli(
        "train",
        "--model_name_or_path",
        str(tiny_encoder_factory("bert")),
        "--train_file",
        str(tmp_path / "missing.csv"),
        "--max_length",
        "4096",
        "--output_dir",
        str(out),
        "--use_cpu",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"goemox: error: --max_length 4096 is above the 128 tokens of {tiny_encoder_factory('bert')}; "
        "pass --max_length 128 or less"
    ]
    assert not out.exists()
