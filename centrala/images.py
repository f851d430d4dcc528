"""Images users upload (avatars, the widget's logo): checked from the header before a pixel is
decoded, then decoded once into a small square PNG.  No Flask here; refusals carry a ``code``.

A 10 KB PNG may declare 8,900 × 8,900 pixels (316 MB once decoded as RGBA) and an animated GIF
thousands of frames.  ``Image.open`` only reads the header, so the size and the frame count are
known before anything is decoded; over ``MAX_PIXELS`` (or ``MAX_FRAMES``, or
``MAX_ANIMATION_PIXELS`` over all frames) the image is refused.  Pillow's own guard is set to the
same limit: its ``DecompressionBombWarning`` (over ``MAX_IMAGE_PIXELS``) is therefore never
followed by a decode here, and its ``DecompressionBombError`` (over twice that) is a refusal.
SVG and any format but PNG, JPEG, GIF and WebP are refused (an SVG can carry script).
"""
from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000            # 6,000 × 4,000: a camera's photo; an avatar needs 256 × 256
MAX_FRAMES = 500                   # only the first frame is used
MAX_ANIMATION_PIXELS = 100_000_000
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class ImageRefused(ValueError):
    """``code``: empty | too_large | not_image | pixels | frames."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def read_upload(stream, max_bytes: int = MAX_BYTES) -> bytes:
    data = stream.read(max_bytes + 1)
    if not data:
        raise ImageRefused("empty")
    if len(data) > max_bytes:
        raise ImageRefused("too_large", max_mb=max_bytes // (1024 * 1024))
    return data


def check(img: Image.Image) -> None:
    """Refuse by what the header says: format, pixels, frames.  Nothing is decoded."""
    if img.format not in FORMATS:
        raise ImageRefused("not_image")
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageRefused("pixels", width=width, height=height, max_mp=MAX_PIXELS // 1_000_000)
    frames = getattr(img, "n_frames", 1)
    if frames > MAX_FRAMES or frames * width * height > MAX_ANIMATION_PIXELS:
        raise ImageRefused("frames", frames=frames, max_frames=MAX_FRAMES)


def square_png(data: bytes, size: int) -> bytes:
    """The first frame, turned upright (EXIF), centre-cropped to a square and resized to
    ``size`` × ``size``, as PNG.  ImageRefused when it is not an image we take."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            check(probe)
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            check(img)
            img.draft("RGB", (size * 2, size * 2))     # JPEG: decode at 1/2 … 1/8 scale
            img.load()
            factor = min(img.size) // (size * 2)
            if factor >= 2:     # shrink first: every copy after this one is small
                if img.mode not in ("RGB", "RGBA", "L", "LA"):
                    img = img.convert("RGBA")
                img = img.reduce(factor)
            img = ImageOps.exif_transpose(img).convert("RGBA")
            img = ImageOps.fit(img, (size, size), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            img.save(out, "PNG", optimize=True)
            return out.getvalue()
    except ImageRefused:
        raise
    except Image.DecompressionBombError:
        raise ImageRefused("pixels", max_mp=MAX_PIXELS // 1_000_000) from None
    except _UNREADABLE:
        raise ImageRefused("not_image") from None
