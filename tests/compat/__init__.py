"""Compatibility tests: the real kubectl and the official Python client against kubelab."""
