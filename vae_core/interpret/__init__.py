"""Interpretation tools on top of a TextVAE: 2-D projections of latent space (and later attributions,
counterfactuals)."""
