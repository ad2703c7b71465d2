"""`import goemox` registers with transformers' Auto classes without importing torch or transformers itself."""

import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("first", list(CHECKS))
def test_goemox_is_registered_whatever_is_imported_first(first):
    """Each order in which a user's script may import things; a fresh interpreter each, since imports are global."""
    script = "import sys\nimport goemox\n" + LIGHT + CHECKS[first] + "\n" + LOOKUP
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_registering_when_transformers_is_already_loaded():
    script = "import sys\nfrom transformers import AutoModelForSequenceClassification\nimport goemox\n" + LOOKUP
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
