"""Jinja2 templates for email alerts and digests (shipped as package data)."""
