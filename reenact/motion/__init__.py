"""Dense correspondence and warping. ``analytic`` derives the backward flow from the shared mesh
topology of the source and re-enacted faces, extends it to hair, neck and background, and fills what
the source cannot show (uncovered background, an opening mouth, a cheek a turn reveals).
``paste`` places the crop back in the photo; ``guidance`` turns a warp into the learned models'
inputs (proxies, parsing maps, heatmaps, the warp as a prior)."""
