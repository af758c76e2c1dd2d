"""Metadata that says an output is synthetic, written into every image and video we make and read
back by ``reenact verify``.

- PNG: text chunks (Software, Description, Creation Time, ``DigitalSourceType``) and an XMP packet;
- JPEG and WebP: EXIF (Software, ImageDescription, DateTime) and an XMP packet;
- MP4: the container's ``comment`` and ``description`` tags.

The XMP packet carries the IPTC digital source type (``Iptc4xmpExt:DigitalSourceType``), the term
that image archives, C2PA and news organisations read: ``compositeSynthetic`` for the training-free
warp (the photo's own pixels moved into a pose and expression it never had, with filled-in parts)
and ``compositeWithTrainedAlgorithmicMedia`` where a learned model drew the face. Metadata is lost
to the re-encoding of messaging apps and video sites; docs/marking.md says what is kept where.
"""

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_TYPES = {"analytic": IPTC + "compositeSynthetic",
                "learned": IPTC + "compositeWithTrainedAlgorithmicMedia"}
SYNTHETIC = "synthetic"  # the first word of every statement, what verify looks for
_STATEMENT = re.compile(r"synthetic: a re-enacted face made by (?P<tool>reenact \S+) on "
                        r"(?P<made>[^\s;<\x00]+); IPTC digital source type (?P<type>[^\s;<&\x00]+)")


@dataclass(frozen=True)
class Marking:
    """What an output says about itself."""

    source_type: str  # an IPTC digital source type URI
    tool: str  # e.g. "reenact 0.1.0"
    made: str  # ISO 8601, UTC, seconds
    watermark: bool = True  # the writers also put the pixel watermark in (reenact.io.watermark)

    @property
    def day(self) -> datetime.date:
        """The day it was made: the watermark's payload."""
        return datetime.date.fromisoformat(self.made[:10])

    def watermarked(self, image: np.ndarray) -> np.ndarray:
        """``image`` with the pixel watermark, or as it is when ``watermark`` is off."""
        if not self.watermark:
            return image
        from reenact.io.watermark import embed

        return embed(image, self.day)

    @property
    def statement(self) -> str:
        return (f"{SYNTHETIC}: a re-enacted face made by {self.tool} on {self.made}; IPTC digital "
                f"source type {self.source_type}")

    def xmp(self) -> str:
        return (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" '
            'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<Iptc4xmpExt:DigitalSourceType>{self.source_type}</Iptc4xmpExt:DigitalSourceType>"
            f"<xmp:CreatorTool>{self.tool}</xmp:CreatorTool>"
            f"<xmp:CreateDate>{self.made}</xmp:CreateDate>"
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{self.statement}</rdf:li>'
            "</rdf:Alt></dc:description>"
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>')

    def image_kwargs(self, suffix: str) -> dict:
        """Pillow ``save`` arguments that carry the marking in this format (none it cannot)."""
        from PIL import Image, PngImagePlugin

        if suffix == ".png":
            info = PngImagePlugin.PngInfo()
            info.add_text("Software", self.tool)
            info.add_text("Description", self.statement)
            info.add_text("Creation Time", self.made)
            info.add_text("DigitalSourceType", self.source_type)
            info.add_itxt("XML:com.adobe.xmp", self.xmp())
            return {"pnginfo": info}
        if suffix in (".jpg", ".jpeg", ".webp", ".tif", ".tiff"):
            exif = Image.Exif()
            exif[0x0131] = self.tool  # Software
            exif[0x010E] = self.statement  # ImageDescription
            exif[0x0132] = self.made.replace("-", ":").replace("T", " ").rstrip("Z")  # DateTime
            kwargs = {"exif": exif.tobytes()}
            if suffix not in (".tif", ".tiff"):
                kwargs["xmp"] = self.xmp().encode()
            return kwargs
        return {}  # BMP and GIF hold no such metadata

    def video_tags(self) -> dict[str, str]:
        """MP4 container tags (what ffprobe shows)."""
        return {"comment": self.statement, "description": self.statement,
                "creation_time": self.made}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def marking(model: str = "analytic", when: datetime.datetime | None = None,
            watermark: bool = True) -> Marking:
    """The marking of an output made now by ``model`` (analytic, or a learned refiner's name);
    ``watermark``: also in the pixels (``--no-watermark`` turns it off)."""
    from reenact import __version__

    when = when or _now()
    kind = "analytic" if model == "analytic" else "learned"
    return Marking(SOURCE_TYPES[kind], f"reenact {__version__}",
                   when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   watermark)


def read_marking(path: str | Path) -> Marking | None:
    """The marking an image or video file carries, or None. Raises ``InputError`` on a file it
    cannot read."""
    from reenact.io.errors import InputError
    from reenact.io.video import VIDEO_SUFFIXES

    path = Path(path)
    texts: list[str] = []
    if path.suffix.lower() in VIDEO_SUFFIXES:
        import av

        try:
            with av.open(str(path)) as container:
                texts += [str(v) for v in container.metadata.values()]
                for stream in container.streams:
                    texts += [str(v) for v in stream.metadata.values()]
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"{path}: cannot read the video ({exc})") from None
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                texts += [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                          for v in image.info.values()]
                texts += [str(v) for v in image.getexif().values()]
        except (UnidentifiedImageError, OSError) as exc:
            raise InputError(f"{path}: cannot read the image ({exc})") from None
    for text in texts:
        if (m := _STATEMENT.search(text)) is not None:
            return Marking(m["type"], m["tool"], m["made"])
    return None
