"""Face tracking: mediapipe landmarks, per-frame fitting of the face model, temporal smoothing, and
stable square crops. Landmarks are (478, 3) in image space (see reenact.geometry)."""
