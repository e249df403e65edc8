"""The Voice conversion tab, split into one module per page (convert, live, new speaker, batch, models)."""
