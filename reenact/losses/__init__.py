"""Loss terms: adversarial, reconstruction, warping and cycle terms; one file per model family
holds every term it trains with, so the GAN phases read in one place."""
