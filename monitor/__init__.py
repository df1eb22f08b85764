"""Remedy Monitor: watches courts and legislatures for changes to remedies against
federal immigration officers, stores every version, and alerts exactly once."""

__version__ = "0.1.0"
