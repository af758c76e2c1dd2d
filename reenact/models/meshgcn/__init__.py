"""The mesh-guided GCN (Yao et al., "Mesh Guided One-shot Face Reenactment using Graph
Convolutional Networks"): spectral graph convolutions on the stacked source and driving meshes.
This first slice holds the Chebyshev convolution and the graph residual block (Sec. 3.2)."""
