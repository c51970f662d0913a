"""Pictures of submitted ads: checked by their content and stored re-encoded.

A picture is accepted when its first bytes are those of a PNG, JPEG or WebP file (whatever its
name or the type the browser claims), it is no larger than ``TUTORWATCH_SUBMISSION_IMAGE_MB``
and no more than ``MAX_PIXELS`` pixels, and Pillow decodes it whole. What is stored is Pillow's
own encoding of the decoded pixels in the same format: EXIF (with any GPS position), XMP, ICC
profiles, comments and whatever was appended after the picture are gone. The EXIF orientation
is applied first, so the picture still shows upright. Of an animation, the first frame is kept.

Settings: ``TUTORWATCH_SUBMISSION_IMAGE_MB`` (largest picture, default 10).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _

MAX_IMAGES = 5
# A 50-megapixel phone photo fits; decoding one costs 200 MB at most (4 bytes a pixel), and a
# small file that claims more (a "decompression bomb") is refused before it is decoded. Below
# Pillow's own limit, so that its warning never fires first.
MAX_PIXELS = 50_000_000
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class ImageRefused(ValueError):
    """A picture that is not stored; the message says why, for the officer."""


@dataclass(frozen=True)
class PreparedImage:
    """A checked picture, re-encoded, ready to store."""

    data: bytes
    content_type: str
    width: int
    height: int
    original_name: str
    original_sha256: str
    original_size: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def max_image_bytes() -> int:
    return int(getattr(settings, "TUTORWATCH_SUBMISSION_IMAGE_MB", 10)) * 1024 * 1024


def sniff(head: bytes) -> str | None:
    """The format the first bytes announce (PNG, JPEG, WEBP), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def prepare(upload: IO[bytes], name: str, size: int | None = None) -> PreparedImage:
    """Check one uploaded picture and re-encode it; ImageRefused names what is wrong."""
    name = (name or "")[:200]
    limit = max_image_bytes()
    if size is not None and size > limit:
        raise ImageRefused(_("%(name)s is larger than %(mb)d MB.") % {
            "name": name, "mb": limit // (1024 * 1024)})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImageRefused(_("%(name)s is larger than %(mb)d MB.") % {
            "name": name, "mb": limit // (1024 * 1024)})
    fmt = sniff(data[:16])
    if fmt is None:
        raise ImageRefused(_("%(name)s is not a PNG, JPEG or WebP picture (judged by its "
                             "content, not its name).") % {"name": name})
    encoded, width, height = _reencode(data, fmt, name)
    return PreparedImage(data=encoded, content_type=FORMATS[fmt], width=width, height=height,
                         original_name=name, original_sha256=hashlib.sha256(data).hexdigest(),
                         original_size=len(data))


def _reencode(data: bytes, fmt: str, name: str) -> tuple[bytes, int, int]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    broken = ImageRefused(_("%(name)s could not be read as a picture: the file is damaged or "
                            "not what it claims to be.") % {"name": name})
    try:
        with warnings.catch_warnings():
            # Pillow warns of (and, at twice its limit, refuses) huge pictures as it opens
            # them; MAX_PIXELS, lower, is checked right after.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise ImageRefused(_("%(name)s has too many pixels (%(w)d × %(h)d).") % {
                        "name": name, "w": width, "h": height})
                probe.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as source:
            source.seek(0)
            picture = ImageOps.exif_transpose(source)
            picture.load()
            # Only the pixels (and a palette's transparency) travel on: Pillow's encoders
            # fall back to the source's ICC profile and EXIF kept in ``info``.
            transparency = picture.info.get("transparency")
            picture.info = {} if transparency is None else {"transparency": transparency}
    except ImageRefused:
        raise
    except Image.DecompressionBombError:
        raise ImageRefused(_("%(name)s has too many pixels.") % {"name": name}) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise broken from None
    try:
        return _encode(picture, fmt)
    except (OSError, ValueError):  # a mode this format's encoder does not take
        return _encode(picture.convert("RGBA" if fmt != "JPEG" else "RGB"), fmt)


def _encode(picture: Any, fmt: str) -> tuple[bytes, int, int]:
    out = io.BytesIO()
    if fmt == "JPEG":
        if picture.mode not in ("RGB", "L"):
            picture = picture.convert("RGB")
        picture.save(out, "JPEG", quality=92)
    elif fmt == "PNG":
        picture.save(out, "PNG")
    else:
        if picture.mode not in ("RGB", "RGBA"):
            picture = picture.convert("RGBA")
        picture.save(out, "WEBP", quality=90)
    return out.getvalue(), picture.width, picture.height
