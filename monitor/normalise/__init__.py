"""Normalisation: one status vocabulary for bills, one for cases and dockets, one for documents."""
