"""Metrics (one file each, callable from training and standalone) and evaluation protocols."""
