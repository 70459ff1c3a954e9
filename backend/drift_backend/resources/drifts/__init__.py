"""Drift runs of an experiment: job status and concept/data drift results."""
