"""The admin surface: who may call it (auth), the review queue, lists, labels and model versions."""
