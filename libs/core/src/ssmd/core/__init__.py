"""ssmd.core."""
