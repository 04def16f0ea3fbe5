"""The MovieLens releases aerec knows: where to get them, how to check them, how to read them.

An explicit table, not a naming convention: :func:`aerec.data.load` and the CLI take their
names from :data:`DATASETS`.

Checksums are of the official zip files, in pooch's ``"algorithm:hex"`` form. The md5 values
are the ones GroupLens publishes beside each zip (``<name>.zip.md5``); each was found pinned,
identically, in several unrelated public projects (dataset configs, download scripts quoting
the ``.md5`` file, pooch ``known_hash`` values). Where tensorflow_datasets records a sha256
(``url_checksums/movielens.txt``) another project lists that sha256 next to the same md5.
``ml-latest-small`` is a rolling release, so it is pinned by the sha256 that
tensorflow_datasets records for it (978,202 bytes, the snapshot GroupLens generated on
2018-09-26); should GroupLens regenerate it, the download fails the check instead of
silently changing the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aerec.data.types import RatingScale

FormatKind = Literal["ml-100k", "dat", "csv"]
"""How the files of a release are laid out.

- ``ml-100k``: ``u.data`` (tab), ``u.user`` and ``u.item`` (``|``, latin-1).
- ``dat``: ``::``-separated ``ratings.dat``, ``movies.dat`` and, for ml-1m, ``users.dat``.
- ``csv``: ``ratings.csv`` and ``movies.csv`` with a header line (utf-8).
"""

FOLDS_100K = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
"""ML-100K's own folds: ``u1.base`` / ``u1.test`` and so on."""
BASE_URL = "https://files.grouplens.org/datasets/movielens"
STARS = RatingScale(1.0, 5.0)
HALF_STARS = RatingScale(0.5, 5.0)


@dataclass(frozen=True)
class DatasetSpec:
    """One official MovieLens release."""

    name: str
    """Registry name, also the zip's stem (``ml-1m`` -> ``ml-1m.zip``)."""
    checksum: str
    """Pooch-style checksum of the official zip, ``"md5:..."`` or ``"sha256:..."``."""
    folder: str
    """The top folder inside the zip (and of an extracted copy)."""
    kind: FormatKind
    ratings: str
    """File name of the ratings, inside ``folder``."""
    items: str | None
    users: str | None
    scale: RatingScale
    extra: tuple[str, ...] = ()
    """Files extracted too when the zip has them (ML-100K's own folds), not required."""

    @property
    def url(self) -> str:
        return f"{BASE_URL}/{self.name}.zip"

    @property
    def zip_name(self) -> str:
        return f"{self.name}.zip"

    @property
    def files(self) -> tuple[str, ...]:
        """The files this release must contain, ratings first."""
        return tuple(f for f in (self.ratings, self.users, self.items) if f is not None)


def _csv(name: str, checksum: str) -> DatasetSpec:
    return DatasetSpec(name, checksum, name, "csv", "ratings.csv", "movies.csv", None, HALF_STARS)


DATASETS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        "ml-100k",
        "md5:0e33842e24a9c977be4e0107933c0723",
        "ml-100k",
        "ml-100k",
        "u.data",
        "u.item",
        "u.user",
        STARS,
        tuple(f"{fold}.{part}" for fold in FOLDS_100K for part in ("base", "test")),
    ),
    "ml-1m": DatasetSpec(
        "ml-1m",
        "md5:c4d9eecfca2ab87c1945afe126590906",
        "ml-1m",
        "dat",
        "ratings.dat",
        "movies.dat",
        "users.dat",
        STARS,
    ),
    "ml-10m": DatasetSpec(
        "ml-10m",
        "md5:ce571fd55effeba0271552578f2648bd",
        "ml-10M100K",
        "dat",
        "ratings.dat",
        "movies.dat",
        None,
        HALF_STARS,
    ),
    "ml-20m": _csv("ml-20m", "md5:cd245b17a1ae2cc31bb14903e1204af3"),
    "ml-25m": _csv("ml-25m", "md5:6b51fb2759a8657d3bfcbfc42b592ada"),
    "ml-32m": _csv("ml-32m", "md5:d472be332d4daa821edc399621853b57"),
    "ml-latest-small": _csv(
        "ml-latest-small",
        "sha256:696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
}


def spec_for_folder(folder_name: str) -> DatasetSpec | None:
    """The release whose registry name or zip folder is ``folder_name``, if any."""
    for spec in DATASETS.values():
        if folder_name in (spec.name, spec.folder):
            return spec
    return None
