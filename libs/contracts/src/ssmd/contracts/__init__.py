"""ssmd.contracts."""
