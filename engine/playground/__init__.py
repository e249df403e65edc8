"""The 2-D GAN playground: toy target distributions, small MLP GANs, their losses and training jobs."""
