"""Tiny helpers shared by every app: the bottom layer, with no models and no app imports."""
