"""Publishing: the folder is built and loaded for real; the Hub calls go to a fake client that fails on cue."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
import torch
from conftest import BLOCK_GOEMOX, run_root
from huggingface_hub.errors import HfHubHTTPError
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.exporters.portable import scrub_local_paths
from goemox.hub.folder import PROBE_TEXTS, REMOTE_CODE_FILES
from goemox.hub.push import build_hub_folder, call_with_retries, check_repo_id, push_to_hub

SECRET = "hf_goemoxTestToken0123456789abcdef"

LOAD_WITHOUT_GOEMOX = (
    BLOCK_GOEMOX
    + r"""
try:
    import goemox
    sys.exit("goemox was importable")
except ModuleNotFoundError:
    pass
from transformers import pipeline
classifier = pipeline("text-classification", model=sys.argv[1], top_k=None, trust_remote_code=True)
print(json.dumps({"scores": classifier(json.loads(sys.argv[2])), "class": type(classifier.model).__name__}))
"""
)


def http_error(status: int, headers: dict | None = None) -> HfHubHTTPError:
    request = httpx2.Request("POST", "https://huggingface.co/api/models/me/x/commit/main")
    return HfHubHTTPError(f"HTTP {status}", response=httpx2.Response(status, headers=headers, request=request))


class FakeHubApi:
    """Records the HfApi calls goemox makes; `failures[name]` lists exceptions to raise before succeeding."""

    def __init__(self, failures=None, existing=(".gitattributes",)):
        self.failures = {name: list(errors) for name, errors in (failures or {}).items()}
        self.existing = list(existing)
        self.calls: list[str] = []
        self.commits: list[dict] = []

    def _maybe_fail(self, name):
        self.calls.append(name)
        if self.failures.get(name):
            raise self.failures[name].pop(0)

    def create_repo(self, repo_id, private=None, exist_ok=False):
        self._maybe_fail("create_repo")
        self.repo = {"repo_id": repo_id, "private": private}
        return type("RepoUrl", (), {"url": f"https://hub.test/{repo_id}"})()

    def create_branch(self, repo_id, branch, exist_ok=False):
        self._maybe_fail("create_branch")
        self.branch = branch

    def list_repo_files(self, repo_id, revision=None):
        self._maybe_fail("list_repo_files")
        return list(self.existing)

    def create_commit(self, repo_id, operations, commit_message, revision=None, repo_type=None):
        self._maybe_fail("create_commit")
        files = {}
        deleted = []
        for op in operations:
            if type(op).__name__ == "CommitOperationAdd":
                files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
            else:
                deleted.append(op.path_in_repo)
        self.commits.append({"files": files, "deleted": deleted, "message": commit_message, "revision": revision})
        return type("CommitInfo", (), {"commit_url": f"https://hub.test/{repo_id}/commit/1"})()


def original_probabilities(run_dir) -> torch.Tensor:
    model = AutoModelForSequenceClassification.from_pretrained(run_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    with torch.no_grad():
        batch = tokenizer(list(PROBE_TEXTS), padding=True, return_tensors="pt")
        return torch.sigmoid(model(**batch).logits)


def test_remote_code_folder_loads_where_goemox_cannot_be_imported(tmp_path, trained_run_factory):
    run_dir = trained_run_factory("distilbert", "mean")
    folder = build_hub_folder(run_dir, tmp_path / "repo")
    assert not folder.native and "'mean'" in folder.native_blocker
    config = json.loads((folder.path / "config.json").read_text())
    assert config["model_type"] == "goemox"
    assert config["problem_type"] == "multi_label_classification"
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "modeling_goemox.GoEmoXForSequenceClassification"
    assert len(config["thresholds"]) == len(config["id2label"]) == 10
    assert set(REMOTE_CODE_FILES) <= set(folder.files)
    assert {"model.safetensors", "tokenizer.json", "README.md", "metrics.json"} <= set(folder.files)

    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_GOEMOX, str(folder.path), json.dumps(list(PROBE_TEXTS))],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["class"] == "GoEmoXForSequenceClassification"
    labels = [config["id2label"][str(i)] for i in range(10)]
    expected = original_probabilities(run_dir)
    for row, probs in zip(loaded["scores"], expected):
        assert {s["label"]: s["score"] for s in row} == pytest.approx(dict(zip(labels, probs.tolist())), abs=1e-5)


@pytest.mark.parametrize("kind", ["bert", "distilbert"])
def test_cls_pooling_is_published_as_the_native_bert_class(kind, tmp_path, trained_run_factory):
    folder = build_hub_folder(trained_run_factory(kind), tmp_path / "repo")
    assert folder.native and folder.architecture == "BertForSequenceClassification"
    assert folder.max_abs_difference <= 1e-5
    config = json.loads((folder.path / "config.json").read_text())
    assert config["model_type"] == "bert" and "auto_map" not in config
    assert not set(REMOTE_CODE_FILES) & set(folder.files)
    card = (folder.path / "README.md").read_text()
    assert 'pipeline("text-classification", model=' in card and "trust_remote_code" not in card
    opted_out = build_hub_folder(trained_run_factory(kind), tmp_path / "remote", native=False)
    assert opted_out.architecture == "GoEmoXForSequenceClassification"


def test_build_refuses_to_overwrite_and_rejects_non_models(tmp_path, trained_run_factory):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(GoEmoXUsageError, match="already holds files"):
        build_hub_folder(trained_run_factory("bert"), tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    with pytest.raises(GoEmoXUsageError, match="no config.json"):
        build_hub_folder(tmp_path / "taken", tmp_path / "out")


def test_push_retries_transient_failures_and_makes_one_commit(tmp_path, trained_run_factory, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    api = FakeHubApi(
        failures={
            "create_repo": [httpx2.ConnectError("connection refused")],
            "create_commit": [http_error(503), http_error(429, {"Retry-After": "7"}), http_error(502)],
        },
        existing=[".gitattributes", "modeling_goemox.py", "configuration_goemox.py", "notes.md", "onnx/model.onnx"],
    )
    waits = []
    url = push_to_hub(
        trained_run_factory("bert"),
        "me/goemox-tiny",
        private=True,
        revision="v1",
        commit_message="first upload",
        token=SECRET,
        api=api,
        sleep=waits.append,
    )
    assert url == "https://hub.test/me/goemox-tiny/commit/1"
    assert api.calls.count("create_commit") == 4 and api.calls.count("create_repo") == 2
    assert waits == [2.0, 2.0, 7.0, 8.0]  # doubling backoff per call; Retry-After wins
    assert len(api.commits) == 1
    commit = api.commits[0]
    assert commit["message"] == "first upload" and commit["revision"] == "v1" and api.branch == "v1"
    assert api.repo == {"repo_id": "me/goemox-tiny", "private": True}
    expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"}
    assert expected <= set(commit["files"])
    # Stale remote code and ONNX graphs of an earlier push go; the user's own files stay.
    assert sorted(commit["deleted"]) == ["configuration_goemox.py", "modeling_goemox.py", "onnx/model.onnx"]
    out, err = capsys.readouterr()
    for text in [caplog.text, out, err, *(content.decode("utf-8", "replace") for content in commit["files"].values())]:
        assert SECRET not in text


def test_push_stops_at_once_on_authentication_failure(trained_run_factory):
    api = FakeHubApi(failures={"create_repo": [http_error(401)]})
    waits = []
    with pytest.raises(GoEmoXUsageError, match="hf auth login"):
        push_to_hub(trained_run_factory("bert"), "me/x", api=api, sleep=waits.append)
    assert api.calls == ["create_repo"] and waits == [] and api.commits == []


def test_retries_give_up_with_the_last_reason_and_other_errors_are_not_retried():
    attempts = []

    def always_down():
        attempts.append(1)
        raise http_error(500)

    with pytest.raises(GoEmoXError, match="still failing after 3 attempts .HTTP 500"):
        call_with_retries(always_down, "uploading", max_attempts=3, sleep=lambda s: None)
    assert len(attempts) == 3

    def bad_request():
        attempts.append(1)
        raise http_error(422)

    attempts.clear()
    with pytest.raises(GoEmoXError, match="HTTP 422"):
        call_with_retries(bad_request, "uploading", sleep=lambda s: None)
    assert len(attempts) == 1


BAD_REPO_IDS = [None, "", "no-namespace", "a/b/c", "me/", "/name", " me/x", "me/na me", "me/bad--name", "me/x..y"]
BAD_REPO_IDS += ["me/-x", "me/x.", "me/" + "x" * 100, "me/x?"]


@pytest.mark.parametrize("repo_id", BAD_REPO_IDS)
def test_bad_repository_ids_are_refused_in_one_place(repo_id):
    with pytest.raises(GoEmoXUsageError, match=r"^--repo_id .*: expected user/name or org/name"):
        check_repo_id(repo_id, "--repo_id")


def test_good_repository_ids_pass_and_push_checks_before_any_work(trained_run_factory):
    for repo_id in ("me/goemox-minilm", "Org_1/model.v2", "a/b"):
        assert check_repo_id(repo_id) == repo_id
    api = FakeHubApi()
    with pytest.raises(GoEmoXUsageError, match="user/name"):
        push_to_hub(trained_run_factory("bert"), "no-namespace", api=api)
    assert api.calls == []


def test_train_push_to_hub_publishes_the_finished_model_once(tmp_path, tiny_encoder_factory, monkeypatch):
    import huggingface_hub

    from goemox.training.arguments import DataArguments, ModelArguments
    from goemox.training.train import run_training
    from goemox.training.training_args import GoEmoXTrainingArguments

    api = FakeHubApi()
    tokens = []
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: tokens.append(token) or api)

    def args(**kwargs):
        return GoEmoXTrainingArguments(
            output_dir=str(tmp_path / "run"),
            num_train_epochs=1,
            learning_rate=3e-3,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            push_to_hub=True,
            hub_token=SECRET,
            **kwargs,
        )

    model_args = ModelArguments(model_name_or_path=str(tiny_encoder_factory("bert")))
    data_args = DataArguments(dataset="demo", max_length=32)
    with pytest.raises(GoEmoXUsageError, match="--hub_model_id"):
        run_training(model_args, data_args, args())
    assert not (tmp_path / "run").exists()  # refused before training

    metrics = run_training(model_args, data_args, args(hub_model_id="me/trained", hub_private_repo=True))
    assert tokens == [SECRET]
    assert metrics["hub_commit_url"] == "https://hub.test/me/trained/commit/1"
    assert len(api.commits) == 1 and api.repo == {"repo_id": "me/trained", "private": True}
    published = api.commits[0]["files"]
    assert json.loads(published["config.json"])["model_type"] == "bert"
    (tmp_path / "copy").mkdir()
    shutil.copy2(tmp_path / "run" / "metrics.json", tmp_path / "copy" / "metrics.json")
    assert scrub_local_paths(tmp_path / "copy") == ["metrics.json"]  # the best checkpoint's path
    assert json.loads(published["metrics.json"]) == json.loads((tmp_path / "copy" / "metrics.json").read_text())
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_cli_export_hub_then_card_and_offline_push(tmp_path, trained_run_factory, goemox_cli):
    run_dir = str(trained_run_factory("bert"))
    goemox = goemox_cli
    exported = goemox("export", "hub", run_dir, str(tmp_path / "repo"), "--repo_id", "me/tiny", "--license", "mit")
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert "BertForSequenceClassification, native transformers class" in exported.stdout
    assert card_license(tmp_path / "repo" / "README.md") == "mit"
    again = goemox("export", "hub", run_dir, str(tmp_path / "repo"))
    assert again.returncode == 2 and "already holds files" in again.stderr and "Traceback" not in again.stderr

    carded = goemox("card", run_dir, "--output", str(tmp_path / "card.md"), "--repo_id", "me/tiny")
    assert carded.returncode == 0 and "me/tiny" in (tmp_path / "card.md").read_text()

    offline = goemox("push", run_dir, "me/tiny")
    assert offline.returncode == 2 and "HF_HUB_OFFLINE" in offline.stderr and "Traceback" not in offline.stderr


def card_license(path) -> str:
    from huggingface_hub import ModelCard

    return ModelCard.load(path).data.license


def local_paths(*paths) -> set[str]:
    """Each path as given and resolved, without a trailing slash."""
    return {str(variant).rstrip("/") for path in paths for variant in (path, Path(path).resolve())}


def text_files(files: dict[str, bytes]) -> dict[str, str]:
    """The files that decode as UTF-8 text (weights and images do not)."""
    texts = {}
    for name, content in files.items():
        try:
            texts[name] = content.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def test_exported_and_pushed_folders_name_no_path_of_this_machine(
    tmp_path, tmp_path_factory, trained_run_factory, minilm_goemotions_run, shared_minilm, shared_goemotions
):
    import tempfile

    forbidden = local_paths(
        run_root(tmp_path_factory), minilm_goemotions_run, shared_minilm, shared_goemotions, Path.cwd()
    )
    forbidden |= {str(Path(tempfile.gettempdir()) / "goemox-hub-")}
    run_config = json.loads((minilm_goemotions_run / "run_config.json").read_text())
    assert run_config["model"]["model_name_or_path"] == str(shared_minilm)  # the run did record local paths

    built = {
        "native": build_hub_folder(trained_run_factory("bert"), tmp_path / "native", onnx=True).path,
        "remote code": build_hub_folder(minilm_goemotions_run, tmp_path / "remote").path,
    }
    published = {
        name: {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
        for name, path in built.items()
    }
    api = FakeHubApi()
    push_to_hub(minilm_goemotions_run, "me/goemox-minilm", api=api, sleep=lambda s: None)
    published["pushed"] = api.commits[0]["files"]

    graphs = {name: content for name, content in published["native"].items() if name.endswith(".onnx")}
    assert sorted(graphs) == ["onnx/model.onnx", "onnx/model_quantized.onnx"]
    for name, content in graphs.items():  # the exporter's stack traces of every node are stripped
        for path in forbidden:
            assert path.encode() not in content, f"native {name} names {path}"
    for name, files in published.items():
        texts = text_files(files)
        assert {"config.json", "run_config.json", "metrics.json", "README.md", "tokenizer_config.json"} <= set(texts)
        for file_name, text in texts.items():
            for path in forbidden:
                assert path not in text, f"{name} {file_name} names {path}"
    for name in ("remote code", "pushed"):
        config = json.loads(text_files(published[name])["config.json"])
        assert config["encoder"]["_name_or_path"] == "all-MiniLM-L6-v2 (local folder)"
        tokenizer_config = json.loads(text_files(published[name])["tokenizer_config.json"])
        assert tokenizer_config["model_max_length"] == run_config["data"]["max_length"] == 128
        pushed_run = json.loads(text_files(published[name])["run_config.json"])
        assert pushed_run["data"]["dataset"] == "goemotions (local folder)"
        assert pushed_run["training"]["output_dir"] == f"{minilm_goemotions_run.name} (local folder)"
    assert AutoTokenizer.from_pretrained(built["native"]).model_max_length == 48
