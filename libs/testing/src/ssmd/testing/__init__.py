"""ssmd.testing."""
