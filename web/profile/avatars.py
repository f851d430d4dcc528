"""Avatar images: decoded for real (not trusted by name), square-cropped, resized, re-encoded."""
from __future__ import annotations

import io

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
SIZE = 256
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


class AvatarError(ValueError):
    pass


def process_avatar(stream) -> bytes:
    data = stream.read(MAX_BYTES + 1)
    if not data:
        raise AvatarError(_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise AvatarError(_("The image is larger than 5 MB."))
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            probe.verify()
        if fmt not in FORMATS:
            raise AvatarError(_("Use a PNG, JPEG, GIF or WebP image."))
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img).convert("RGBA")
            img = ImageOps.fit(img, (SIZE, SIZE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            img.save(out, "PNG", optimize=True)
            return out.getvalue()
    except AvatarError:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise AvatarError(_("This file is not an image we can read. Use a PNG, JPEG, GIF or WebP image."))
