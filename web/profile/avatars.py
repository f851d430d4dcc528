"""Avatar images (and the widget's logo): decoded for real (not trusted by name), checked before
decoding (``centrala.images``), square-cropped, resized, re-encoded.  Refusals in the user's
language."""
from __future__ import annotations

from flask_babel import gettext as _

from centrala import images

MAX_BYTES = images.MAX_BYTES
SIZE = 256


class AvatarError(ValueError):
    pass


def refusal_text(exc: images.ImageRefused) -> str:
    if exc.code == "empty":
        return _("The file is empty.")
    if exc.code == "too_large":
        return _("The image is larger than 5 MB.")
    if exc.code == "pixels":
        return _("The image has too many pixels: at most %(n)d megapixels. Make it smaller and upload it again.",
                 n=exc.params.get("max_mp", images.MAX_PIXELS // 1_000_000))
    if exc.code == "frames":
        return _("The animation is too long: at most %(n)d frames. Upload a still image.",
                 n=exc.params.get("max_frames", images.MAX_FRAMES))
    return _("This file is not an image we can read. Use a PNG, JPEG, GIF or WebP image.")


def process_avatar(stream) -> bytes:
    try:
        return images.square_png(images.read_upload(stream, MAX_BYTES), SIZE)
    except images.ImageRefused as exc:
        raise AvatarError(refusal_text(exc)) from None
