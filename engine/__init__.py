"""GAN Studio's training and inference engine: torch only, no Qt, usable headless."""
