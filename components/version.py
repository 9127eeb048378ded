"""The package version, defined once."""

__version__ = "0.2.0"
