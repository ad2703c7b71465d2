"""Fetching real out-of-domain text (Hacker News, GitHub issues) through a retrying JSON client."""
