"""`goemox export hub`, `export onnx`, `push` and `card` run as a user would: in a subprocess, on real run folders."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

NOTE = "note: positional arguments are deprecated"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> content digest)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def one_line_error(result, *expected: str, strict: bool = True) -> None:
    """Exit status 2 and one `goemox: error:` line; `strict`: nothing else on stderr but a deprecation note (not
    strict: transformers' loading progress may come first, for a refusal after the model was read)."""
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.strip().splitlines() if NOTE not in line]
    if not strict:
        lines = [line for line in lines if line.startswith("goemox: error: ")]
    assert len(lines) == 1 and lines[0].startswith("goemox: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture()
def user_folder(tmp_path, trained_run_factory) -> Path:
    """`work/` holding a trained model `work/m` (checkpoints included) and an unrelated file of the user's."""
    work = tmp_path / "work"
    shutil.copytree(trained_run_factory("bert"), work / "m")
    (work / "notes.txt").write_text("my notes", encoding="utf-8")
    assert any(path.name.startswith("checkpoint-") for path in (work / "m").iterdir())
    return work


def test_outputs_that_are_inside_or_hold_the_model_are_refused_and_nothing_is_lost(user_folder, goemox_here):
    before = snapshot(user_folder)
    model, parent = str(user_folder / "m"), str(user_folder)
    cases = [
        (["export", "hub", "--model", model, "--output_dir", model, "--overwrite"], "is the input"),
        (["export", "hub", "--model", model, "--output_dir", parent, "--overwrite"], "holds the input"),
        (["export", "hub", "--model", model, "--output_dir", f"{model}/hub", "--overwrite"], "is inside the input"),
        (["export", "onnx", "--model", model, "--output_dir", parent, "--overwrite"], "holds the input"),
        (["export", "onnx", "--model", model, "--output_dir", model, "--overwrite"], "is the input"),
        (["card", "--model", model, "--output", f"{model}/config.json"], "is inside the input"),
        (["card", "--model", model, "--output", parent], "holds the input"),
    ]
    for args, message in cases:
        one_line_error(goemox_here(*args), message)
        assert snapshot(user_folder) == before, args
    assert sorted(path.name for path in user_folder.iterdir()) == ["m", "notes.txt"]  # no staging left behind


def test_export_hub_overwrite_replaces_a_folder_of_unrelated_files(user_folder, goemox_cli):
    out = user_folder / "hub"
    out.mkdir()
    (out / "old.txt").write_text("an earlier export", encoding="utf-8")
    refused = goemox_cli("export", "hub", "--model", str(user_folder / "m"), "--output_dir", str(out))
    one_line_error(refused, "already holds files")
    assert snapshot(out) == {"old.txt": snapshot(out)["old.txt"]}
    result = goemox_cli("export", "hub", "--model", str(user_folder / "m"), "--output_dir", str(out), "--overwrite")
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"config.json", "model.safetensors", "README.md"} <= set(snapshot(out)) and not (out / "old.txt").exists()
    assert sorted(path.name for path in user_folder.iterdir()) == ["hub", "m", "notes.txt"]


def test_card_writes_the_readme_but_no_other_file_of_the_model(user_folder, goemox_cli, goemox_here):
    model = user_folder / "m"
    before = snapshot(model)
    result = goemox_cli("card", "--model", str(model), "--repo_id", "me/tiny")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "me/tiny" in (model / "README.md").read_text(encoding="utf-8")
    assert {name for name, digest in snapshot(model).items() if before.get(name) != digest} == {"README.md"}
    for name in ("metrics.json", "run_config.json", "model.safetensors", "checkpoint-11/config.json"):
        one_line_error(goemox_here("card", "--model", str(model), "--output", str(model / name)), "--output")
    assert {name for name, digest in snapshot(model).items() if before.get(name) != digest} == {"README.md"}


def test_bad_repository_ids_are_refused_before_any_work(user_folder, goemox_here):
    model = str(user_folder / "m")
    for args in (
        ["push", "--model", model, "--repo_id", "no-namespace"],
        ["export", "hub", "--model", model, "--output_dir", str(user_folder / "hub"), "--repo_id", "me/bad--name"],
        ["card", "--model", model, "--output", str(user_folder / "card.md"), "--repo_id", "a/b/c"],
    ):
        one_line_error(goemox_here(*args), "--repo_id", "expected user/name or org/name")
    assert sorted(path.name for path in user_folder.iterdir()) == ["m", "notes.txt"]


def test_old_positional_spellings_still_work_with_a_note(user_folder, goemox_cli):
    model, out = str(user_folder / "m"), str(user_folder / "hub")
    exported = goemox_cli("export", "hub", model, out)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert f"{NOTE} and go away in the next release; write --model {model} --output_dir {out}" in exported.stderr
    assert (user_folder / "hub" / "model.safetensors").is_file()

    carded = goemox_cli("card", model, "--output", str(user_folder / "card.md"))
    assert carded.returncode == 0 and f"write --model {model}" in carded.stderr
    assert (user_folder / "card.md").is_file()

    pushed = goemox_cli("push", model, "me/tiny")  # offline: stops at the Hub, after reading both words
    assert f"write --model {model} --repo_id me/tiny" in pushed.stderr
    one_line_error(pushed, "HF_HUB_OFFLINE", strict=False)

    onnx = goemox_cli("export", "onnx", model, model)  # refused before any export work
    assert f"write --model {model} --output_dir {model}" in onnx.stderr
    one_line_error(onnx, f"--output_dir {model} is the input")


def test_card_comparison_file_errors_are_one_line_and_the_file_is_never_the_output(user_folder, goemox_here):
    model = user_folder / "m"
    published = user_folder / "published.yaml"
    scheme = json.loads((model / "metrics.json").read_text(encoding="utf-8"))["label_scheme"]
    published.write_text(f"scheme: {scheme}\nresults:\n  - {{model: BERT, test_macro_f1: high, how: one run}}\n")
    before = snapshot(user_folder)
    card = ["card", "--model", str(model), "--output", str(user_folder / "card.md")]
    one_line_error(goemox_here(*card, "--comparison_file", str(published)), "results[0].test_macro_f1 is 'high'")
    one_line_error(goemox_here(*card, "--comparison_file", str(user_folder / "nope.yaml")), "nope.yaml: no such file")
    own = ["card", "--model", str(model), "--output", str(published), "--overwrite"]
    one_line_error(goemox_here(*own, "--comparison_file", str(published)), "is the input")
    assert snapshot(user_folder) == before

    published.write_text(f"scheme: {scheme}\nresults:\n  - {{model: BERT, test_macro_f1: 0.5, how: one run}}\n")
    assert goemox_here(*card, "--comparison_file", str(published)).returncode == 0
    assert "| BERT | n/a | 0.500 | one run | n/a |" in (user_folder / "card.md").read_text(encoding="utf-8")
