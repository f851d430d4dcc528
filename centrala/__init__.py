"""Centrala: composition root (configuration, database, command line) shared by web and pbx."""
__version__ = "0.1.0"
