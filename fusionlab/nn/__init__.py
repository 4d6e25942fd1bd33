"""Keras 3 layers, models and utilities of fusionlab."""
