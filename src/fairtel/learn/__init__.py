"""Shared tabular-model tools: preparation of any labelled table, LightGBM training, calibration, evaluation, reasons."""
