"""ssmd.cli: the `ssmd` command (``ssmd up`` runs the whole mesh locally)."""
