"""Aggregated views of an experiment's drift runs: summary, parameter series, feature heatmap, facets."""
