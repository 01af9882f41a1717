"""What a file really is, from its bytes: Pillow for images, PyAV (FFmpeg) for video."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "video/mp4", "matroska,webm": "video/webm"}


class ProbeError(Exception):
    """The bytes are not a usable image or video; the message says why, for the user."""


@dataclass(frozen=True)
class Probe:
    mime_type: str
    width: int
    height: int
    duration_s: float | None = None
    codec: str | None = None

    @property
    def is_video(self) -> bool:
        return self.mime_type.startswith("video/")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ProbeError:
    return ProbeError(
        f"{width}x{height} is {width * height / 1e6:.0f} megapixels; the limit is "
        f"{max_pixels / 1e6:.0f} (HERALD_MEDIA_MAX_IMAGE_PIXELS)"
    )


def _probe_image(path: Path, max_pixels: int) -> Probe | None:
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP on; the cap below is Herald's own.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            kind = image.format or ""
            width, height = image.size
            # The header says the size: refused before decoding takes the memory it names.
            if width * height > max_pixels:
                raise _too_many_pixels(width, height, max_pixels)
            image.load()  # decodes every byte: a truncated file fails here, not on a platform
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:  # Pillow's own cap, met already at open
        raise ProbeError(
            f"the image declares more pixels than the {max_pixels / 1e6:.0f}-megapixel limit"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ProbeError(f"the image is damaged or truncated ({exc})") from exc
    if kind not in IMAGE_TYPES:
        raise ProbeError(f"{kind or 'this'} images are not supported; use JPEG, PNG, GIF or WebP")
    return Probe(mime_type=IMAGE_TYPES[kind], width=width, height=height)


def _probe_video(path: Path, max_pixels: int) -> Probe | None:
    # Imported when a video is first probed: FFmpeg's libraries are 16 MB of every process's
    # memory, and most of Herald's workers and API processes never see a video.
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError:
        return None
    with container:
        mime = VIDEO_CONTAINERS.get(container.format.name)
        if mime is None or not container.streams.video:
            return None
        stream = container.streams.video[0]
        duration = float(container.duration / av.time_base) if container.duration else None
        if not stream.width or not stream.height:
            raise ProbeError("the video has no picture size; it may be damaged")
        if stream.width * stream.height > max_pixels:
            raise _too_many_pixels(stream.width, stream.height, max_pixels)
        try:
            next(container.decode(stream))  # at least one frame must decode
        except (av.error.FFmpegError, StopIteration) as exc:
            raise ProbeError("the video's frames cannot be decoded; it may be damaged") from exc
        return Probe(
            mime_type=mime,
            width=int(stream.width),
            height=int(stream.height),
            duration_s=duration,
            codec=stream.codec_context.name,
        )


def probe(path: Path, max_pixels: int) -> Probe:
    """Blocking (decodes the file): call it from a thread. Images and video frames over
    `max_pixels` are refused from their headers, before any decoding."""
    if path.stat().st_size == 0:
        raise ProbeError("the file is empty")
    found = _probe_image(path, max_pixels) or _probe_video(path, max_pixels)
    if found is None:
        raise ProbeError("the bytes are neither a supported image nor a supported video")
    return found
