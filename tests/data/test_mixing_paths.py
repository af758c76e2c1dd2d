"""Training samples and ``reenact animate`` mix the photo's face with the driver's by one
function (``reenact.face.reenactment.reenact_face``): for the same faces they give the same
meshes, where the training data's own copy of the mixing (before) did not."""

import torch

from reenact.config import AnimateConfig
from reenact.data.dataset import sample_mix
from reenact.face.expression import absolute_expression, relative_expression
from reenact.face.mixing import MixOptions, mix_coefficients
from reenact.pipeline import Reenactor


def test_training_samples_and_the_pipeline_give_the_same_meshes(samples):
    r = Reenactor(AnimateConfig(crop_only=True))
    src = r.prepare_source(samples["astronaut"])
    drv = r.prepare_source(samples["grace_hopper"]).coeffs  # a driving face's fit
    model = r.model
    head_src = model.head_vertices(src.coeffs.identity, src.coeffs.expression)
    head_drv = model.head_vertices(drv.identity, drv.expression)
    for paired, motion, options, before in (
            (True, "relative", MixOptions(), relative_expression(head_drv, head_src)),
            (False, "absolute", MixOptions(follow_translation=False),
             absolute_expression(head_src, head_drv))):
        # a pair from one video: relative to the source frame; another identity: absolute
        pipeline = model.vertices(r._mix(src, drv, src.coeffs, motion, options).coeffs)
        training = model.vertices(sample_mix(model, src.coeffs, drv, paired).coeffs)
        torch.testing.assert_close(training, pipeline, rtol=0, atol=1e-9)
        # the dataset's former copy of the mixing, which lacked the pipeline's later steps
        # (eyes closing with the driver's, limited opening, the forehead, the turn's trust)
        old = model.vertices(mix_coefficients(src.coeffs, drv, src.coeffs,
                                              before.reshape(1, -1), options))
        assert (old - pipeline).norm(dim=-1).max() > 0.5, motion  # crop pixels (2.5 here)
