"""Rendering as a rasterizer followed by shaders (pytorch3d's split). ``rasterize`` turns image-space
triangles into ``Fragments`` (per-pixel triangle id, barycentrics, depth); shaders turn fragments into
what the models consume: textured proxies, parsing maps, landmark heatmaps, backward flow."""

from reenact.render.rasterizer import Fragments, rasterize
from reenact.render.shaders import (
    interpolate_attributes,
    landmark_heatmaps,
    parsing_map,
    textured_proxy,
)

__all__ = [
    "Fragments",
    "interpolate_attributes",
    "landmark_heatmaps",
    "parsing_map",
    "rasterize",
    "textured_proxy",
]
