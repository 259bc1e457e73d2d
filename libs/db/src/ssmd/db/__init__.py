"""ssmd.db."""
