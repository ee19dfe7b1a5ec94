"""Analyses of the experiment dataset and of AeLLE, one module each (none imports torch).

``statistics``
    Spectrum statistics and their Spearman correlation with the final loss.
``early_prediction``
    Classifying networks as high/low final accuracy from early information:
    AeLLE against the loss and LE-statistic baselines.
``embedding``
    2-D embeddings (PCA, UMAP) of AeLLE latent codes.
``tables``
    Markdown rendering of result tables.
"""
