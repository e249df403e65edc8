"""Floor 3: image generation with a DCGAN and a tag-conditional GAN."""
