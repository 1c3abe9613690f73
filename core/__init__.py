"""Tiny helpers shared by every app: the bottom layer, importing no other app.

Its one model is the background heartbeat (core/heartbeat.py): written by the tick and the
workers, read by every dashboard page and /healthz, so it sits below everything that does so.
"""
