"""Training-time code: augmentation, the selection fold, the train loop and fitting; never needed to serve."""
