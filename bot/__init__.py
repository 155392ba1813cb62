"""promobot: GitOps model promotion."""

__version__ = "0.1.0"
