"""DCG-GAN (Liu et al., "Semantic-aware One-shot Face Re-enactment with Dense Correspondence
Estimation"): the dense correspondence estimator (Sec. 2.2); the generator, discriminator and losses
follow in later slices. Paper symbols are kept in comments next to plain names."""

from reenact.models.dcggan.correspondence import (
    CorrespondenceConfig,
    DenseCorrespondence,
    attention_warp,
    correlation_matrix,
    normalize_features,
)

__all__ = [
    "CorrespondenceConfig",
    "DenseCorrespondence",
    "attention_warp",
    "correlation_matrix",
    "normalize_features",
]
