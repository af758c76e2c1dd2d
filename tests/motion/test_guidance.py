import pytest
import torch

from reenact.face import REGION
from reenact.motion.guidance import HEATMAP_GROUPS, render_guidance
from reenact.pipeline import Reenactor


@pytest.fixture(scope="module")
def astronaut_as_hopper(samples):
    """(reenactor, prepared astronaut, warp to Grace Hopper's pose and expression)."""
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    return r, src, next(r.drive(src, [samples["grace_hopper"]], is_video=False))


def test_guidance_shapes_and_consistency(astronaut_as_hopper):
    _, src, warp = astronaut_as_hopper
    g = render_guidance(src.scene, warp)
    S = src.scene.size
    assert g.proxy_src.shape == (1, 3, S, S) and g.proxy_reenacted.shape == (1, 3, S, S)
    assert g.heatmaps_src.shape == (1, len(HEATMAP_GROUPS), S, S)
    # P_r shows the source texture where the warp does (it lacks only the mouth and mirror fills);
    # both proxies are black off the face.
    face = warp.fragments.mask[0]
    assert (g.proxy_reenacted[0][:, face] - warp.image[0][:, face]).abs().mean() < 0.05
    assert (g.proxy_reenacted[0][:, ~face] == 0).all()
    on_s = (g.parsing_src[0] > 0) & (g.parsing_src[0] != REGION["hair"])
    assert (g.proxy_src[0][:, ~on_s] == 0).all()
    # Parsing maps hold face regions and the person (hair) label, and match the face coverage.
    labels = set(g.parsing_reenacted.unique().tolist())
    assert {REGION["skin"], REGION["lips"], REGION["hair"], REGION["background"]} <= labels
    assert ((g.parsing_reenacted[0] > 0) & (g.parsing_reenacted[0] != REGION["hair"])).eq(face).all()
    # Heatmaps peak at 1 near the landmarks.
    assert torch.isclose(g.heatmaps_reenacted.amax(), torch.tensor(1.0), atol=0.05)


def test_dcggan_inputs_feed_the_model(astronaut_as_hopper):
    from reenact.models.dcggan import CorrespondenceConfig
    from reenact.models.dcggan.generator import GeneratorConfig
    from reenact.models.dcggan.model import DCGGAN, DCGGANConfig
    from reenact.motion.guidance import dcggan_inputs

    _, src, warp = astronaut_as_hopper
    batch = dcggan_inputs(src.scene, warp)
    S = src.scene.size
    assert batch["parsing_s"].shape == (1, 9, S, S)
    assert torch.allclose(batch["parsing_r"].sum(1), torch.ones(1, S, S))
    cfg = DCGGANConfig(correspondence=CorrespondenceConfig(width=8, feature_dim=16, res_blocks=1),
                       generator=GeneratorConfig(width=16, coarse_blocks=1))
    small = {k: torch.nn.functional.avg_pool2d(v, 4) for k, v in batch.items()}  # 64 px
    out = DCGGAN(cfg)(**small)
    assert out.image.shape == (1, 3, 64, 64)


def test_pluggable_landmark_and_parsing_networks_and_the_geometry_target(astronaut_as_hopper):
    from reenact.geometry import matrix_to_euler
    from reenact.models.e3d import CoefficientRegressor, E3DConfig, geometry_target
    from reenact.motion.guidance import dcggan_inputs

    r, src, warp = astronaut_as_hopper
    seen = []

    def hrnet_like(img):  # stands in for a user's HRNet: 5 feature maps
        seen.append(img.shape)
        return img.mean(1, keepdim=True).expand(-1, 5, -1, -1)

    def bisenet_like(img):  # stands in for a user's BiSeNet: 3 classes
        return (img[:, 0] * 2.99).long()

    batch = dcggan_inputs(src.scene, warp, num_classes=3, landmark_features=hrnet_like,
                          parsing_model=bisenet_like)
    assert batch["landmarks_s"].shape[1] == 5 == batch["landmarks_r"].shape[1] and len(seen) == 2
    assert batch["parsing_s"].shape[1] == 3
    e3d = CoefficientRegressor(E3DConfig(width=8, expression_dim=4))
    c = warp.coeffs  # L_geo's target for this warp: its pose and its head's expression code
    target = geometry_target(e3d, matrix_to_euler(c.rotation),
                             r.model.head_vertices(c.identity, c.expression))
    assert target.shape == (1, 7) and torch.isfinite(target).all()


def test_proxies_of_a_face_models_own_mesh(astronaut_as_hopper):
    """With ``warp.model_meshes`` (--face-model flame|bfm) the proxies are that mesh textured
    from the source: here a quad over the crop's top-left, moved 16 px right in the re-enactment;
    the parsing maps stay the landmark mesh's."""
    import dataclasses

    from reenact.face.base import ModelMeshes

    _, src, warp = astronaut_as_hopper
    quad = torch.tensor([[[8.0, 8, 1], [120, 8, 1], [8, 120, 1], [120, 120, 1]]])
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    moved = quad + torch.tensor([16.0, 0, 0])
    w = dataclasses.replace(warp, model_meshes=ModelMeshes(quad, moved, faces))
    g = render_guidance(src.scene, w)
    image = src.scene.image[0].float()
    inside = (slice(None), slice(20, 100), slice(20, 100))
    assert (g.proxy_src[0][inside] - image[inside]).abs().max() < 0.02  # the source, in place
    shifted = (slice(None), slice(20, 100), slice(36, 116))
    assert (g.proxy_reenacted[0][shifted] - image[inside]).abs().max() < 0.02  # carried along
    assert (g.proxy_src[0][:, 140:, 140:] == 0).all()  # off the quad: black
    assert torch.equal(g.parsing_reenacted, render_guidance(src.scene, warp).parsing_reenacted)
