"""Dense correspondence and warping. ``analytic`` derives the backward flow from the shared mesh
topology of the source and re-enacted faces, extends it to hair, neck and background, and fills what
the source cannot show (uncovered background, an opening mouth, a cheek a turn reveals)."""
