"""What promobot shares between its Azure ML registry and its Azure targets."""
