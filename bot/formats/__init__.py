"""Reading our own files (manifests, policies) with positions for error messages."""
