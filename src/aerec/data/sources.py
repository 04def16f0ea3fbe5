"""Where the files of a release come from.

In this order: (a) a folder or zip the user names; (b) the data folder (``data_dir`` or
``AEREC_DATA_DIR``) holding official extracted folders such as ``ml-1m/`` (or the zips);
(c) the user cache (``AEREC_CACHE_DIR``, else the platform's cache folder), where downloads
are extracted; (d) a download with pooch, checked against the pinned checksum.

Extraction refuses entries that would land outside the target folder (zip slip) and works in a
temporary folder that is renamed into place, so a folder that exists is always complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from aerec.data.registry import DatasetSpec
from aerec.errors import DataError

DATA_DIR_ENV = "AEREC_DATA_DIR"
CACHE_DIR_ENV = "AEREC_CACHE_DIR"
Downloader = Callable[[str, str, Any], None]
"""pooch's downloader protocol: ``(url, output_file, pooch_instance)``."""


def data_root(data_dir: str | Path | None = None) -> Path | None:
    """The data folder: ``data_dir``, else ``$AEREC_DATA_DIR``, else None."""
    value = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The user cache: ``cache_dir``, else ``$AEREC_CACHE_DIR``, else the platform's."""
    value = cache_dir if cache_dir is not None else os.environ.get(CACHE_DIR_ENV)
    return Path(value).expanduser() if value else Path(platformdirs.user_cache_dir("aerec"))


def writable(folder: Path) -> Path:
    """Create ``folder`` if needed and check that files can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise DataError(
            f"cannot write to the cache folder {folder} ({exc.strerror or exc}); "
            f"set {CACHE_DIR_ENV} to a writable folder"
        ) from exc
    return folder


def has_files(folder: Path, files: Sequence[str]) -> bool:
    return all((folder / name).is_file() for name in files)


def locate(
    spec: DatasetSpec,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = False,
    downloader: Downloader | None = None,
) -> Path:
    """The folder holding ``spec``'s files: found locally, or downloaded and extracted."""
    root, cache = data_root(data_dir), cache_root(cache_dir)
    found, searched = _find_local(spec, root, cache)
    if found is not None:
        return found
    reason = "download is off"
    if download:
        try:
            zip_path = fetch_zip(spec, cache, progress=progress, downloader=downloader)
            return extract_release(zip_path, spec, cache)
        except _DownloadFailed as exc:
            reason = str(exc)
    raise DataError(
        f"{spec.name} not found (searched {', '.join(map(str, searched))}) and {reason}; "
        f"put the extracted {spec.folder}/ folder or {spec.zip_name} in "
        f"{root if root is not None else cache} or pass --data-dir"
    )


def _find_local(
    spec: DatasetSpec, root: Path | None, cache: Path
) -> tuple[Path | None, list[Path]]:
    """A local copy in the data folder (extracted, or its zip) or the cache; and the folders
    searched."""
    searched: list[Path] = []
    if root is not None:
        own = [root] if root.name in (spec.folder, spec.name) else []
        for folder in [*own, root / spec.folder, root / spec.name]:
            if has_files(folder, spec.files):
                return folder, searched
            searched.append(folder)
        local_zip = root / spec.zip_name
        if local_zip.is_file():
            return extract_release(local_zip, spec, unzip_dir(cache, local_zip)), searched
    if has_files(cache / spec.folder, spec.files):
        return cache / spec.folder, searched
    return None, [*searched, cache / spec.folder]


def from_path(path: Path, spec: DatasetSpec, cache_dir: str | Path | None = None) -> Path:
    """The release folder for a folder or zip the user named."""
    if zipfile.is_zipfile(path):
        return extract_release(path, spec, unzip_dir(cache_root(cache_dir), path))
    for folder in (path, path / spec.folder):
        if has_files(folder, spec.files):
            return folder
    missing = [name for name in spec.files if not (path / name).is_file()]
    raise DataError(
        f"{path}: no {', '.join(missing)} for {spec.name}; name the extracted "
        f"{spec.folder}/ folder or the official {spec.zip_name}"
    )


class _DownloadFailed(Exception):
    """The download did not happen (offline, refused); the caller says where to put files."""


def fetch_zip(
    spec: DatasetSpec,
    cache: Path,
    *,
    progress: bool = False,
    downloader: Downloader | None = None,
) -> Path:
    """Download ``spec``'s official zip into the cache and check its pinned checksum.

    A file whose checksum does not match is deleted by pooch before it is ever used.
    """
    import pooch  # lazily: it pulls in requests

    folder = writable(cache / "downloads")
    try:
        path = pooch.retrieve(
            spec.url,
            known_hash=spec.checksum,
            fname=spec.zip_name,
            path=folder,
            downloader=downloader or pooch.HTTPDownloader(progressbar=progress, timeout=30),
        )
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise _DownloadFailed(f"the download failed ({exc})") from exc
        raise DataError(
            f"{spec.url}: the download does not match the pinned checksum {spec.checksum} and "
            f"was deleted; try again later, or put the official {spec.folder}/ folder in "
            f"${DATA_DIR_ENV}"
        ) from exc
    except Exception as exc:  # requests' connection errors, OSError, ...
        raise _DownloadFailed(f"the download failed ({type(exc).__name__}: {exc})") from exc
    return Path(path)


def unzip_dir(cache: Path, zip_path: Path) -> Path:
    """Where a local zip is extracted: named by its stem, size and mtime, so a changed zip is
    extracted again."""
    stat = zip_path.stat()
    return cache / "unzipped" / f"{zip_path.stem}-{stat.st_size}-{stat.st_mtime_ns}"


def extract_release(zip_path: Path, spec: DatasetSpec, parent: Path) -> Path:
    """Extract ``spec``'s files from ``zip_path`` into ``parent/<spec.folder>``; return it."""
    final = parent / spec.folder
    if has_files(final, spec.files):
        return final
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = _members(archive, zip_path, spec)
            _check_paths(archive, zip_path)
            _extract(archive, members, final)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{zip_path}: not a valid zip file ({exc}); download it again") from exc
    return final


def _members(archive: zipfile.ZipFile, zip_path: Path, spec: DatasetSpec) -> dict[str, str]:
    """Zip member name of each file ``spec`` needs (in its folder, or at the top)."""
    names = set(archive.namelist())
    for prefix in (f"{spec.folder}/", ""):
        if all(prefix + name in names for name in spec.files):
            found = [name for name in spec.extra if prefix + name in names]
            return {name: prefix + name for name in (*spec.files, *found)}
    wanted = [f"{spec.folder}/{name}" for name in spec.files]
    absent = [member for member in wanted if member not in names]
    raise DataError(
        f"{zip_path}: the zip has no member {', '.join(absent)}; "
        f"download the official {spec.zip_name} again"
    )


def _check_paths(archive: zipfile.ZipFile, zip_path: Path) -> None:
    """Refuse the whole zip if any entry would be written outside the target folder."""
    for name in archive.namelist():
        parts = Path(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise DataError(
                f"{zip_path}: entry {name!r} would be written outside the target folder; "
                f"refusing this zip, use the official one"
            )


def _extract(archive: zipfile.ZipFile, members: dict[str, str], final: Path) -> None:
    """Extract into a temporary sibling folder, then rename it to ``final`` in one step."""
    writable(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        for name, member in members.items():
            with archive.open(member) as src, (tmp / name).open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():  # not a concurrent extraction that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
