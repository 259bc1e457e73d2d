"""ssmd.bus."""
