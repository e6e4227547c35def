"""``kl describe``: a human-readable page per object, one module per family of kinds."""
