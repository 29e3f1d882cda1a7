"""Offline pipeline demo for xling: a synthetic sample dataset and a tiny encoder."""
