"""Hydra configs, installed as ``siammask.conf`` so that tools find them through the package, not a checkout."""
