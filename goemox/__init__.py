"""goemox: multi-label emotion classification with Hugging Face transformers."""

from transformers import AutoConfig, AutoModelForSequenceClassification

from goemox.configuration_goemox import GoEmoXConfig
from goemox.modeling_goemox import GoEmoXForSequenceClassification

AutoConfig.register(GoEmoXConfig.model_type, GoEmoXConfig, exist_ok=True)
AutoModelForSequenceClassification.register(GoEmoXConfig, GoEmoXForSequenceClassification, exist_ok=True)

__version__ = "0.1.0"
__all__ = ["GoEmoXConfig", "GoEmoXForSequenceClassification"]
