"""Printers for ``kl`` output: tables, YAML, JSON, names and JSONPath."""
