"""The offline DetectLabels: real labels for the sample photos, Rekognition's response shape,
MaxLabels/MinConfidence, and Rekognition's error codes for images it would refuse."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from local_aws.label_taxonomy import COCO_CLASSES, Taxonomy, title_case
from local_aws.rekognition_model import (
    DEFAULT_MIN_CONFIDENCE,
    MAX_S3_OBJECT_BYTES,
    RekognitionError,
    decode_rgb,
    inspect_image,
    merge_labels,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# (file, a label it must get among its first three, whether that label comes with a box)
EXPECTED = [
    ("cat-chelsea.png", "Cat", True),
    ("coffee cup.jpg", "Cup", True),
    ("astronaut-eileen-collins.jpg", "Person", True),
    ("cameraman.png", "Tripod", False),
    ("rocket-launch.JPG", "Rocket", False),
]


@pytest.fixture(scope="module")
def sample_labels(labeller) -> dict[str, dict]:
    """Each sample labelled once at MinConfidence 20, the low end most tests look at."""
    return {name: labeller.detect_labels((SAMPLES / name).read_bytes(), min_confidence=20) for name, _, _ in EXPECTED}


def names(response: dict) -> list[str]:
    return [label["Name"] for label in response["Labels"]]


def label(response: dict, name: str) -> dict:
    return next(entry for entry in response["Labels"] if entry["Name"] == name)


def png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def cat_bgr() -> np.ndarray:
    return cv2.imread(str(SAMPLES / "cat-chelsea.png"), cv2.IMREAD_COLOR)


def assert_rekognition_error(call, code: str) -> RekognitionError:
    with pytest.raises(RekognitionError) as raised:
        call()
    assert raised.value.code == code, raised.value.message
    assert raised.value.status == 400
    return raised.value


# --- labels for real photos -------------------------------------------------------------------


@pytest.mark.parametrize(("file", "expected", "boxed"), EXPECTED)
def test_each_sample_gets_its_expected_label_near_the_top(labeller, file, expected, boxed):
    response = labeller.detect_labels((SAMPLES / file).read_bytes())  # Rekognition's defaults
    assert expected in names(response)[:3], names(response)
    found = label(response, expected)
    assert found["Confidence"] >= DEFAULT_MIN_CONFIDENCE
    assert bool(found["Instances"]) is boxed
    assert response["LabelModelVersion"] == labeller.model_version


def test_the_cat_is_boxed_and_has_rekognition_style_parents(sample_labels):
    cat = label(sample_labels["cat-chelsea.png"], "Cat")
    assert [parent["Name"] for parent in cat["Parents"]] == ["Pet", "Mammal", "Animal"]
    assert cat["Categories"] == [{"Name": "Animals and Pets"}]
    [instance] = cat["Instances"]
    box = instance["BoundingBox"]
    # Chelsea fills most of the photo.
    assert box["Width"] > 0.7 and box["Height"] > 0.8
    assert instance["Confidence"] == cat["Confidence"]
    # The classifier's breeds are there too, below the default threshold, under Cat.
    assert {"Egyptian Cat", "Tabby Cat"} <= set(names(sample_labels["cat-chelsea.png"]))


def test_the_coffee_photo_gets_the_cup_and_the_espresso(sample_labels):
    coffee = sample_labels["coffee cup.jpg"]
    assert names(coffee)[0] == "Cup"
    assert {"Espresso", "Coffee", "Beverage", "Bowl"} <= set(names(coffee))
    assert [parent["Name"] for parent in label(coffee, "Espresso")["Parents"]] == ["Coffee", "Beverage"]


def test_responses_are_shaped_like_rekognitions(sample_labels):
    for file, response in sample_labels.items():
        labels = response["Labels"]
        confidences = [entry["Confidence"] for entry in labels]
        assert confidences == sorted(confidences, reverse=True), file
        for entry in labels:
            assert set(entry) == {"Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"}
            assert entry["Name"] == title_case(entry["Name"])
            assert isinstance(entry["Confidence"], float) and 20 <= entry["Confidence"] <= 100
            assert entry["Aliases"] == []
            assert entry["Categories"] and all(set(category) == {"Name"} for category in entry["Categories"])
            for parent in entry["Parents"]:
                # Every parent is a label of its own, at least as confident as its child.
                assert label(response, parent["Name"])["Confidence"] >= entry["Confidence"], (file, entry["Name"])
            for instance in entry["Instances"]:
                box = instance["BoundingBox"]
                assert set(box) == {"Width", "Height", "Left", "Top"}
                assert 0 <= box["Left"] < box["Left"] + box["Width"] <= 1
                assert 0 <= box["Top"] < box["Top"] + box["Height"] <= 1
                assert 20 <= instance["Confidence"] <= entry["Confidence"]


def test_a_false_detection_below_the_detector_floor_is_dropped_even_at_min_confidence_zero(labeller):
    # The detector sees a 40 % "Mouse" at the astronaut's hand.
    response = labeller.detect_labels((SAMPLES / "astronaut-eileen-collins.jpg").read_bytes(), min_confidence=0)
    assert "Mouse" not in names(response)


# --- MaxLabels and MinConfidence --------------------------------------------------------------


def test_max_labels_keeps_the_most_confident(labeller, sample_labels):
    data = (SAMPLES / "coffee cup.jpg").read_bytes()
    top_three = labeller.detect_labels(data, max_labels=3, min_confidence=20)
    assert top_three["Labels"] == sample_labels["coffee cup.jpg"]["Labels"][:3]
    assert labeller.detect_labels(data, max_labels=0)["Labels"] == []


def test_min_confidence_filters_labels_and_defaults_to_55(labeller, sample_labels):
    data = (SAMPLES / "cat-chelsea.png").read_bytes()
    low = sample_labels["cat-chelsea.png"]["Labels"]
    default = labeller.detect_labels(data)["Labels"]
    high = labeller.detect_labels(data, min_confidence=90)["Labels"]
    assert default == [entry for entry in low if entry["Confidence"] >= 55]
    assert high == [entry for entry in low if entry["Confidence"] >= 90]
    assert "Egyptian Cat" in names({"Labels": low}) and "Egyptian Cat" not in names({"Labels": default})
    assert "Cat" in names({"Labels": high})


@pytest.mark.parametrize(
    "parameters",
    [{"max_labels": -1}, {"max_labels": 2.5}, {"min_confidence": 101}, {"min_confidence": -1}, {"min_confidence": "55"}],
)
def test_out_of_range_parameters_are_invalid(labeller, parameters):
    data = (SAMPLES / "cat-chelsea.png").read_bytes()
    assert_rekognition_error(lambda: labeller.detect_labels(data, **parameters), "InvalidParameterException")


# --- images Rekognition refuses --------------------------------------------------------------


def encoded(extension: str) -> bytes:
    ok, data = cv2.imencode(extension, cat_bgr())
    assert ok
    return data.tobytes()


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("text", b"this is not an image\n"),
        ("empty", b""),
        ("html", b"<!DOCTYPE html><html><body><img src='cat.png'></body></html>"),
        ("pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
        ("gif", encoded(".gif")),
        ("bmp", encoded(".bmp")),
        ("tiff", encoded(".tiff")),
        ("webp", encoded(".webp")),
    ],
)
def test_anything_but_jpeg_or_png_is_an_invalid_image_format(labeller, kind, data):
    error = assert_rekognition_error(lambda: labeller.detect_labels(data), "InvalidImageFormatException")
    assert error.message == "Request has invalid image format"


@pytest.mark.parametrize("file", ["coffee cup.jpg", "cat-chelsea.png"])
def test_a_truncated_image_is_an_invalid_image_format(labeller, file):
    data = (SAMPLES / file).read_bytes()
    assert_rekognition_error(lambda: labeller.detect_labels(data[: len(data) * 2 // 3]), "InvalidImageFormatException")


def test_a_corrupt_png_is_an_invalid_image_format(labeller):
    data = bytearray((SAMPLES / "cat-chelsea.png").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # compressed data (and its CRC) no longer match
    assert_rekognition_error(lambda: labeller.detect_labels(bytes(data)), "InvalidImageFormatException")


@pytest.mark.parametrize(("width", "height"), [(1, 1), (79, 200), (200, 79)])
def test_an_image_under_80_px_a_side_is_an_invalid_parameter(labeller, width, height):
    data = png(np.full((height, width, 3), 128, dtype=np.uint8))
    error = assert_rekognition_error(lambda: labeller.detect_labels(data), "InvalidParameterException")
    assert error.message == "Request has invalid parameters"


def test_an_80_px_image_is_accepted(labeller):
    response = labeller.detect_labels(png(cv2.resize(cat_bgr(), (80, 80), interpolation=cv2.INTER_AREA)))
    assert isinstance(response["Labels"], list)


def test_a_decoded_frame_is_labelled_as_its_image_file_would_be(labeller, sample_labels):
    # What video label detection calls for each sampled frame: an RGB array, never re-encoded.
    rgb = cv2.cvtColor(cat_bgr(), cv2.COLOR_BGR2RGB)
    assert labeller.label_rgb(rgb, min_confidence=20) == sample_labels["cat-chelsea.png"]["Labels"]
    assert [entry["Name"] for entry in labeller.label_rgb(rgb, max_labels=1)] == ["Cat"]
    # A tiny frame is still labelled (the 80 px rule is DetectLabels' limit for image files).
    assert isinstance(labeller.label_rgb(np.zeros((10, 10, 3), np.uint8)), list)
    with pytest.raises(ValueError):
        labeller.label_rgb(rgb[:, :, 0])


def test_an_image_over_10000_px_a_side_is_too_large(labeller):
    data = png(np.zeros((80, 10_001, 3), dtype=np.uint8))
    error = assert_rekognition_error(lambda: labeller.detect_labels(data), "ImageTooLargeException")
    assert error.message == "Input image dimensions 10001 x 80 exceed maximum dimension size of 10000 pixels"


def test_an_image_over_15_mb_is_too_large(labeller):
    data = (SAMPLES / "cat-chelsea.png").read_bytes()
    oversized = data + bytes(MAX_S3_OBJECT_BYTES + 1 - len(data))
    assert_rekognition_error(lambda: labeller.detect_labels(oversized), "ImageTooLargeException")


# --- images it accepts in any PNG flavour or size ---------------------------------------------


@pytest.mark.parametrize(
    "flavour",
    [
        "grey",
        "rgba",
        "16-bit",
        "large jpeg",
        "progressive jpeg",
    ],
)
def test_png_flavours_and_large_photos_still_show_the_cat(labeller, flavour):
    image = cat_bgr()
    if flavour == "grey":
        data = png(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    elif flavour == "rgba":
        data = png(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    elif flavour == "16-bit":
        data = png(image.astype(np.uint16) * 257)
    elif flavour == "progressive jpeg":  # several scans: the end marker comes after the last one
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        data = jpeg.tobytes()
    else:  # decoded at a reduced scale: the boxes must still be ratios of the whole photo
        ok, jpeg = cv2.imencode(".jpg", cv2.resize(image, (2706, 1800), interpolation=cv2.INTER_CUBIC))
        data = jpeg.tobytes()
    response = labeller.detect_labels(data)
    cat = label(response, "Cat")
    assert cat["Confidence"] >= 70
    assert cat["Instances"][0]["BoundingBox"]["Width"] > 0.7


def test_a_jpeg_is_turned_upright_by_its_exif_orientation_as_rekognition_does(labeller):
    ok, jpeg = cv2.imencode(".jpg", cat_bgr())  # 451 x 300, landscape
    # An APP1 segment saying "rotate 90 degrees clockwise to display" (orientation 6).
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + bytes(4)
    app1 = b"\xff\xe1" + struct.pack(">H", len(tiff) + 8) + b"Exif\x00\x00" + tiff
    data = jpeg.tobytes()[:2] + app1 + jpeg.tobytes()[2:]
    header = inspect_image(data)
    assert decode_rgb(data, header).shape == (451, 300, 3)  # portrait, as a viewer shows it
    assert "Cat" in names(labeller.detect_labels(data))


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_calls_give_the_same_answers_as_sequential_ones(labeller, sample_labels):
    files = [file for file, _, _ in EXPECTED]
    results: dict[tuple[int, str], dict] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            # Overlapping halves in opposite orders: both threads run the models at the same time.
            for file in files[:3] if worker == 0 else files[:1:-1]:
                results[(worker, file)] = labeller.detect_labels((SAMPLES / file).read_bytes(), min_confidence=20)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 6
    for (_, file), response in results.items():
        assert response == sample_labels[file], file


# --- merging the two models (pure) -----------------------------------------------------------


@pytest.fixture(scope="module")
def taxonomy(labeller) -> Taxonomy:
    return labeller.taxonomy


def detection(class_id: int, score: float, box: tuple[float, float, float, float]) -> list[float]:
    return [0.0, float(class_id), score, *box]


def class_index(taxonomy: Taxonomy, name: str) -> int:
    return next(index for index, info in enumerate(taxonomy.classifier_labels) if info.name == name)


def test_merge_keeps_the_best_confidence_per_name_and_sums_classifier_ancestors(taxonomy):
    cup_id = next(class_id for class_id, name in COCO_CLASSES.items() if name == "Cup")
    probabilities = np.zeros(1000, dtype=np.float32)
    probabilities[class_index(taxonomy, "Cup")] = 0.5
    probabilities[class_index(taxonomy, "Tabby Cat")] = 0.2
    probabilities[class_index(taxonomy, "Egyptian Cat")] = 0.15
    labels = merge_labels(
        taxonomy=taxonomy,
        detections=np.array([detection(cup_id, 0.9, (-0.1, 0.2, 0.5, 1.2))], dtype=np.float32),
        probabilities=probabilities,
        min_confidence=10,
        max_labels=None,
    )
    by_name = {entry["Name"]: entry for entry in labels}
    assert [name for name in by_name if name == "Cup"] == ["Cup"]  # one entry for both models
    assert by_name["Cup"]["Confidence"] == pytest.approx(90, abs=0.01)
    assert by_name["Cup"]["Instances"][0]["BoundingBox"] == pytest.approx(
        {"Left": 0.0, "Top": 0.2, "Width": 0.5, "Height": 0.8}, abs=1e-4
    )  # clipped to the image
    assert by_name["Cat"]["Confidence"] == pytest.approx(35, abs=0.01)  # no cat class alone reached 35
    assert by_name["Tabby Cat"]["Confidence"] == pytest.approx(20, abs=0.01)
    assert names({"Labels": labels})[:2] == ["Cup", "Tableware"]  # a child before its equal parent


def test_taxonomy_orders_ancestors_nearest_first(taxonomy):
    assert taxonomy.info("Car").parents == ("Vehicle", "Transportation")
    assert taxonomy.info("Sports Car").parents == ("Car", "Vehicle", "Transportation")
    assert taxonomy.info("Dog").parents == ("Canine", "Pet", "Mammal", "Animal")
    assert taxonomy.info("German Shepherd").parents[0] == "Dog"
    # ImageNet's two "crane" classes are told apart.
    assert "Bird" in taxonomy.info("Crane Bird").parents and "Machine" in taxonomy.info("Crane").parents
