"""Images: checked whole before anything is stored, then stored once by the SHA-256 of their bytes, beside their
normalised rendition (annotations.services.image_rendition), the one picture every consumer uses."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from annotations.models import Image
from annotations.services.image_rendition import NormalizedImage, image_normalize

# MPO is how Pillow names a JPEG that carries more pictures (phones add depth and gain maps): a JPEG to everyone else.
ALLOWED_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
THUMBNAIL_SIZE = (320, 320)
# ISO base media file brands (ISO/IEC 23008-12, AV1 image file format): what a phone's photo or an AVIF is.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class CheckedImage:
    """Image bytes that decoded completely within the limits, with what is known about them and their rendition.
    width and height are the original's, as its header gives them; the rendition's may be swapped by EXIF."""

    data: bytes
    sha256: str
    format: str
    width: int
    height: int
    normalized: NormalizedImage


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def image_check(*, data: bytes) -> CheckedImage:
    """Decode the whole image under the size and pixel limits and make its rendition (image_normalize); raise
    ValidationError with the reason. The limits are checked on the header, before a pixel is decoded."""
    if not data:
        raise ValidationError("The image file is empty.", code="empty")
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise ValidationError(
            f"The image is {_megabytes(len(data))}; the limit is {_megabytes(settings.IMAGE_MAX_BYTES)}.",
            code="too_large",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            with PILImage.open(io.BytesIO(data)) as probe:
                fmt, (width, height) = probe.format or "", probe.size
                if fmt not in ALLOWED_FORMATS:
                    raise ValidationError(
                        f"{fmt or 'This'} images are not accepted; use JPEG, PNG, WebP, GIF, BMP or TIFF.",
                        code="format",
                    )
                # The header alone gives the size: refuse a decompression bomb before decoding a pixel.
                if width * height > settings.IMAGE_MAX_PIXELS:
                    raise ValidationError(
                        f"The image is {width}x{height} pixels ({width * height:,}); "
                        f"the limit is {settings.IMAGE_MAX_PIXELS:,} pixels.",
                        code="too_many_pixels",
                    )
                probe.verify()  # checksums and structure (PNG CRCs, ...)
            with PILImage.open(io.BytesIO(data)) as im:
                normalized = image_normalize(image=im)  # decodes every pixel: a truncated file fails here
        except ValidationError:
            raise
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise ValidationError(
                f"The image has more pixels than the limit of {settings.IMAGE_MAX_PIXELS:,}.", code="too_many_pixels"
            ) from None
        except UnidentifiedImageError:
            kind = _unreadable_kind(data)
            raise ValidationError(
                f"The file is {kind}, not an image Critic Desk can read; use JPEG, PNG, WebP, GIF, BMP or TIFF."
                if kind
                else "The file is not an image Critic Desk can read.",
                code="not_image",
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValidationError(f"The image is truncated or corrupt ({exc}).", code="corrupt") from None
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        width=width,
        height=height,
        normalized=normalized,
    )


def _unreadable_kind(data: bytes) -> str:
    """The kind of a file Pillow cannot open that people upload as images (an iPhone's HEIC photo, an SVG drawing,
    a PDF), named so the refusal says what to do; "" for anything else."""
    if data[4:8] == b"ftyp":
        brands = {data[i : i + 4] for i in range(8, min(len(data), 64), 4)}
        if brands & _HEIF_BRANDS:
            return "a HEIC/HEIF photo"
        if brands & _AVIF_BRANDS:
            return "an AVIF file"
    if data.startswith(b"%PDF"):
        return "a PDF document"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in head:
        return "an SVG drawing"
    return ""


def image_store(*, checked: CheckedImage) -> tuple[Image, bool]:
    """Return the stored Image for these bytes, storing them first if they are new; (image, created).

    Call inside the transaction that uses the image: on rollback, call image_discard on a created one."""
    existing = Image.objects.filter(sha256=checked.sha256).first()
    if existing is not None:
        return existing, False
    image = image_unsaved(checked=checked)
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        # Another upload stored the same bytes a moment ago: use its row, drop our copy of the files.
        image_discard_files(image=image)
        return Image.objects.get(sha256=checked.sha256), False
    return image, True


def image_unsaved(*, checked: CheckedImage) -> Image:
    """Write the image's files (the original and its rendition, both named by the original's SHA-256) and return
    its row, not saved yet."""
    sha = checked.sha256
    name = f"images/{sha[:2]}/{sha}.{ALLOWED_FORMATS[checked.format]}"  # 256 folders: spread, few to create
    normalized = checked.normalized
    original = default_storage.save(name, ContentFile(checked.data))
    try:
        rendition = default_storage.save(normalized_name(sha256=sha), ContentFile(normalized.png))
    except BaseException:
        default_storage.delete(original)
        raise
    return Image(
        sha256=sha,
        file=original,
        normalized=rendition,
        normalized_sha256=hashlib.sha256(normalized.png).hexdigest(),
        width=normalized.width,
        height=normalized.height,
        normalization_note=normalized.note[:500],
        format=checked.format,
        size_bytes=len(checked.data),
    )


def normalized_name(*, sha256: str) -> str:
    """Where an image's rendition is stored: under normalized/, by the SHA-256 of its original."""
    return f"normalized/{sha256[:2]}/{sha256}.png"


def image_thumbnail_ensure(*, image: Image) -> str:
    """The storage name of the image's thumbnail, made from its rendition on first use (imports skip it)."""
    if image.thumbnail:
        return str(image.thumbnail.name)
    with image.normalized.open("rb") as f, PILImage.open(f) as thumb:
        thumb.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        thumb.save(out, format="WEBP", quality=80)
    name = default_storage.save(f"thumbs/{image.sha256[:2]}/{image.sha256}.webp", ContentFile(out.getvalue()))
    if not Image.objects.filter(pk=image.pk, thumbnail="").update(thumbnail=name):
        default_storage.delete(name)  # another request made it a moment ago: keep theirs
        image.refresh_from_db(fields=["thumbnail"])
        return str(image.thumbnail.name)
    image.thumbnail.name = name
    return name


def image_discard_files(*, image: Image) -> None:
    """Remove the files of an image whose row was rolled back."""
    for name in (image.file.name, image.normalized.name, image.thumbnail.name):
        if name and default_storage.exists(name):
            default_storage.delete(name)
