"""Publishing to the Hugging Face Hub: the exact repository folder, the model card and the one-commit push."""
