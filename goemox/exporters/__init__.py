"""Turning a saved goemox (or native Hugging Face) classifier into other runtimes' formats."""
