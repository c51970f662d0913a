"""Files for the intake tests: real pictures made by Pillow (with metadata to strip), and the
bad ones the issue lists."""

from __future__ import annotations

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

SECRET = b"SECRET-METADATA"


def jpeg_with_metadata(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying EXIF (a description, a GPS position and orientation 6: turned 90°),
    a comment and an ICC profile, with junk appended after its end."""
    exif = Image.Exif()
    exif[0x010E] = SECRET.decode()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (28.0, 12.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes(),
                                                comment=SECRET, icc_profile=SECRET * 8)
    return out.getvalue() + b"PK\x03\x04" + SECRET


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 120, 0, 255)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def webp(size: tuple[int, int] = (20, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 0, 200)).save(out, "WEBP", xmp=b"<x>" + SECRET + b"</x>")
    return out.getvalue()


def svg() -> bytes:
    return (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "not a picture")
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)
