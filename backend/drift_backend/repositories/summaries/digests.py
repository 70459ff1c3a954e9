"""Which numbers of a run are digested per day (`stats` of a summary document), and where a parameter's digest is."""

from __future__ import annotations

import math

from bson.decimal128 import Decimal128

from ...run_document import DIGEST_ROOTS, feature_flagged, is_feature_object
from .keys import encode_path

# Bounds on what one run adds to its document, which every run of the day and model shares (16 MB at most)
# and which one update rewrites: numbers at most 6 keys below a root (deep enough for
# `data_drift.parameters.features.<feature>.<statistic>`), at most 300 of them per run, paths of at most
# 400 characters once encoded. A run with more, or with numbers a digest cannot hold exactly (decimals,
# NaN, infinities) or cannot name (empty keys), counts as `incomplete`: reads then go to the runs.
DIGEST_MAX_DEPTH = 6
DIGEST_MAX_LEAVES = 300
DIGEST_MAX_PATH = 400


def numeric_leaves(run: dict) -> tuple[list[tuple[str, str, float, bool]], bool]:
    """The digested numbers of a run as (root, encoded path, value, feature flagged), and whether that is all.

    `feature flagged` is true for a statistic of a per-feature object that says `drifted: true` (or
    `drift: true`), as the heatmap counts detections.
    """
    leaves: list[tuple[str, str, float, bool]] = []
    complete = True

    def walk(root: str, node: dict, segments: list[str], flagged: bool) -> None:
        nonlocal complete
        for key, value in node.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, dict, Decimal128)):
                continue
            path = [*segments, key]
            if isinstance(value, dict):
                if len(path) < DIGEST_MAX_DEPTH:
                    walk(root, value, path, is_feature_object(root, path) and feature_flagged(value))
                continue
            name = encode_path(path)
            if (not all(path) or len(name) > DIGEST_MAX_PATH or isinstance(value, Decimal128)
                    or not math.isfinite(value) or len(leaves) >= DIGEST_MAX_LEAVES):
                complete = False
                continue
            leaves.append((root, name, float(value), flagged))

    for root in DIGEST_ROOTS:
        node = run
        for part in root.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            walk(root, node, [], False)
    return leaves, complete


def digest_location(parameter: str) -> tuple[str, str] | None:
    """Where a dotted parameter path's digest is kept: (root, encoded path); None when it is not kept."""
    for root in sorted(DIGEST_ROOTS, key=len, reverse=True):
        if parameter.startswith(f"{root}."):
            segments = parameter[len(root) + 1:].split(".")
            return (root, encode_path(segments)) if len(segments) <= DIGEST_MAX_DEPTH else None
    return None
