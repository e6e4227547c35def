"""One module per ``kl`` verb; each exposes ``register(sub, parent)``."""
