"""Validation of evalkit's scorers on human-rated and real story data (../shared/validation).

``python validation/run_validation.py`` computes every figure and writes docs/metrics.md.
"""
