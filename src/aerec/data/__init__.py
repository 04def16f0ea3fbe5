"""Data: raw MovieLens (or your own) files -> :class:`RatingsData` -> encoded -> splits.

The public entry points are :func:`load` and :func:`info`; :data:`DATASETS` lists the
releases that can be fetched by name.
"""

from aerec.data.loading import Fetched, fetch, info, load
from aerec.data.parsers import CustomFormat
from aerec.data.registry import DATASETS, DatasetSpec
from aerec.data.types import RatingScale, RatingsData

__all__ = [
    "DATASETS",
    "CustomFormat",
    "DatasetSpec",
    "Fetched",
    "RatingScale",
    "RatingsData",
    "fetch",
    "info",
    "load",
]
