"""Image and landmark metrics, one file each, with no model inside: training validates with them
and ``reenact.eval`` reports them (PSNR, SSIM, landmark error, and the face region they measure)."""
