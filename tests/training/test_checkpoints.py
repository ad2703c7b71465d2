"""`--resume_from_checkpoint last` picks the newest checkpoint that was written completely."""

from goemox.training.train import last_complete_checkpoint


def write_checkpoint(folder, *names):
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text("{}")
    return folder


def test_a_half_written_newer_checkpoint_is_passed_over(tmp_path):
    complete = write_checkpoint(tmp_path / "checkpoint-10", "trainer_state.json", "model.safetensors", "config.json")
    write_checkpoint(tmp_path / "checkpoint-20", "config.json", "model.safetensors")  # killed before its state
    write_checkpoint(tmp_path / "checkpoint-30")  # killed at once
    write_checkpoint(tmp_path / "checkpoint-25", "trainer_state.json")  # weights never written
    assert last_complete_checkpoint(tmp_path) == str(complete)


def test_steps_compare_as_numbers_and_no_checkpoint_is_none(tmp_path):
    assert last_complete_checkpoint(tmp_path) is None
    write_checkpoint(tmp_path / "checkpoint-9", "trainer_state.json", "model.safetensors")
    newest = write_checkpoint(tmp_path / "checkpoint-10", "trainer_state.json", "model-00001-of-00002.safetensors")
    write_checkpoint(tmp_path / "checkpoint-x", "trainer_state.json", "model.safetensors")
    assert last_complete_checkpoint(tmp_path) == str(newest)
