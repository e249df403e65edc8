"""Floor 1 of the engine: device choice, seeding, the job protocol and checkpoints."""
