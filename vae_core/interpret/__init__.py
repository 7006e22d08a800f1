"""Interpretation tools on top of a TextVAE: 2-D projections of latent space and their inverse
(`projection`), token attributions (`attribution`, captum) and latent counterfactuals (`counterfactual`)."""
