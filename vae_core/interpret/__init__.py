"""Interpretation tools on top of a TextVAE: 2-D projections of latent space and their inverse
(`projection`), token attributions (`attribution`, captum), latent counterfactuals (`counterfactual`) and
groups of documents described in words: error slices, suspect labels, named map regions (`groups`)."""
