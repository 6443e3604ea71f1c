"""pytest plugin: store fixtures for the whole suite (filled in by the foundation)."""
