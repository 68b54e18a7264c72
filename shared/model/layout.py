"""Where the model registry and the retraining runs keep their files in the archive bucket: the names
the scoring path, the retraining jobs, training and infra's IAM statements (infra/model_access.py)
share. Pure: infra imports it at synth.

    <registry>/CURRENT                          the served version's name (shared.model.remote)
    <registry>/ROLLOUT.json                     a candidate under trial (shared.model.rollout)
    <registry>/<version>/libtgmodel-<arch>.so   a version's compiled library (training.compile)
    retrain-runs/<run>/training-set.csv.gz      a retraining run's training set, then its outcome
    retrain-runs/<run>/outcome.json             (shared.jobs.retrain)
"""

from __future__ import annotations

POINTER = "CURRENT"
ROLLOUT = "ROLLOUT.json"
RUNS_PREFIX = "retrain-runs/"
TRAINING_SET_NAME = "training-set.csv.gz"
OUTCOME_NAME = "outcome.json"


def library_name(architecture: str) -> str:
    """The compiled library of `architecture` (x86_64, aarch64), as a model version names it."""
    return f"libtgmodel-{architecture}.so"
