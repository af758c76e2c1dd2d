"""FLAME behind the front end's face-model interface (``reenact.face.base.FaceModel``).

Coefficients: identity = FLAME's shape coefficients (B, S); expression = its expression
coefficients followed by the jaw's axis-angle (B, E + 3); rotation, scale and translation map the
model frame to image space (``verts_img = scale * rotation @ X + translation``), as for the
landmark mesh. Fitting reads mediapipe's 478 points through FLAME's mediapipe embedding.
"""

import torch

from reenact.face.base import FaceCoefficients, pose_vertices
from reenact.face.flame import FlameModel, MediapipeEmbedding
from reenact.face.flame_fit import FlameFitConfig, fit_flame_to_mediapipe


class FlameFaceModel:
    name = "flame"

    def __init__(self, model: FlameModel, embedding: MediapipeEmbedding,
                 cfg: FlameFitConfig | None = None):
        self.model = model
        self.embedding = embedding
        self.cfg = cfg or FlameFitConfig()

    @property
    def num_vertices(self) -> int:
        return self.model.num_vertices

    def mesh(self):
        """FLAME's own mesh: (V, 3) template vertices and (F, 3) triangles (numpy)."""
        return self.model.data.v_template, self.model.data.faces

    def head_vertices(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, S), (B, E + 3) -> (B, V, 3) in the model frame (the jaw posed, the rest at rest)."""
        pose = torch.zeros(identity.shape[0], len(self.model.parents), 3, dtype=identity.dtype)
        pose[:, 2] = expression[:, -3:]
        return self.model.vertices(identity, expression[:, :-3], pose)

    def vertices(self, coeffs: FaceCoefficients) -> torch.Tensor:
        return pose_vertices(self.head_vertices(coeffs.identity, coeffs.expression), coeffs)

    def fit(self, landmarks: torch.Tensor, video: bool = False) -> FaceCoefficients:
        """Mediapipe landmarks (B, 478, 3) in image space -> coefficients (``video``: the B
        frames of one face, one shape, smoothed)."""
        fit = fit_flame_to_mediapipe(self.model, self.embedding, landmarks, self.cfg, video)
        return FaceCoefficients(identity=fit.shape, expression=torch.cat([fit.expression,
                                                                           fit.jaw], 1),
                                rotation=fit.rotation, scale=fit.scale,
                                translation=fit.translation)
