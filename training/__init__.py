"""Training-time ML: data loading, time splits, poisoning defences, training and alternatives,
evaluation, compilation to native libraries, and the on-disk model registry.

Never imported by a Lambda at run time (it needs numpy, pandas, xgboost, scikit-learn, treelite,
tl2cgen); the scoring path uses `shared.model`.
"""
