"""aerec: autoencoder collaborative filtering on explicit ratings."""

__version__ = "0.1.0"
