"""`import goemox` registers with transformers' Auto classes without importing torch or transformers itself."""

import subprocess
import sys

import pytest
from conftest import starts_processes

pytestmark = starts_processes  # five interpreters at once

CHECKS = {
    "AutoConfig": "from transformers import AutoConfig\nassert AutoConfig.for_model('goemox').model_type == 'goemox'",
    "pipeline import": "from transformers import pipeline",
    "the model file first": "import goemox.modeling_goemox",
    "the config first": "from goemox import GoEmoXConfig",
}
LIGHT = "assert not {'torch', 'transformers'} & set(sys.modules), sorted(sys.modules)\n"
LOOKUP = """
from transformers import AutoModelForSequenceClassification
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING as mapping
from goemox import GoEmoXConfig, GoEmoXForSequenceClassification
assert mapping[GoEmoXConfig] is GoEmoXForSequenceClassification
assert not any(type(finder).__name__ == "RegisterOnImport" for finder in sys.meta_path)
"""


SCRIPTS = {
    **{first: "import sys\nimport goemox\n" + LIGHT + check + "\n" + LOOKUP for first, check in CHECKS.items()},
    "transformers already loaded": "import sys\nfrom transformers import AutoModelForSequenceClassification\n"
    "import goemox\n" + LOOKUP,
}
"""Each order in which a user's script may import things, in a fresh interpreter each, since imports are global."""


@pytest.fixture(scope="module")
def started():
    """Every script's interpreter, started at once (each spends seconds importing; the cores share them)."""
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, script in SCRIPTS.items()
    }
    yield processes
    for process in processes.values():
        process.kill()
        process.communicate()


@pytest.mark.parametrize("first", list(SCRIPTS))
def test_goemox_is_registered_whatever_is_imported_first(started, first):
    _, stderr = started[first].communicate(timeout=300)
    assert started[first].returncode == 0, stderr[-3000:]
