"""GAN Studio's desktop front end: a Qt window whose tabs hand engine jobs to a background worker."""
