"""Data utilities for fusionlab's sequence models."""

from .sequences import create_sequences

__all__ = ["create_sequences"]
