"""Gorilla LSP: comments become checked machine-learning API calls."""

__version__ = "0.1.0"
