"""Datasets and samplers over preprocessed shards: identity-disjoint splits, the papers' pairing
schemes (DCG-GAN's hybrid paired/unpaired sampling, the mesh paper's same-video pairs)."""
