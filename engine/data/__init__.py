"""Floor 2 of the engine: data sets and corpora shared by the task packages."""
