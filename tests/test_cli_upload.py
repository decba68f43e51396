"""`imagelabels upload` against the in-process pipeline: which files go up under which keys, what is
skipped and why, --wait reporting the labels the real handler wrote for exactly this upload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from moto import mock_aws

from cli_film_harness import film
from cli_harness import BUCKET, TINY_PNG, make_pipeline, sample
from imagelabels.uploads import object_key, plan_uploads
from label_table_in_moto import image, images_with_label, label_counts


@pytest.fixture
def pipeline(monkeypatch):
    with mock_aws():
        yield make_pipeline(monkeypatch)


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """A folder as people have them: photos in sub-folders, and things that are not photos."""
    root = tmp_path / "shoot"
    (root / "cats").mkdir(parents=True)
    (root / "kitchen" / "morning").mkdir(parents=True)
    shutil.copy(Path(__file__).parent.parent / "samples" / "cat-chelsea.png", root / "cats" / "chelsea.png")
    shutil.copy(Path(__file__).parent.parent / "samples" / "coffee cup.jpg", root / "kitchen" / "morning" / "coffee cup.jpg")
    (root / "rocket.JPG").write_bytes(sample("rocket-launch.JPG"))
    (root / "notes.txt").write_text("shot list")
    (root / "empty.jpg").write_bytes(b"")
    (root / "not-really.png").write_text("a text file renamed .png")
    (root / "png-named.jpg").write_bytes(sample("cameraman.png"))  # a PNG renamed .jpg
    return root


def test_the_plan_keeps_the_folder_structure_and_says_why_each_file_is_skipped(mixed_folder):
    plan = plan_uploads([mixed_folder], prefix="2026")

    assert {upload.key: upload.content_type for upload in plan.uploads} == {
        "2026/shoot/cats/chelsea.png": "image/png",
        "2026/shoot/kitchen/morning/coffee cup.jpg": "image/jpeg",
        "2026/shoot/rocket.JPG": "image/jpeg",
        "2026/shoot/png-named.jpg": "image/png",  # the content decides, not the name
    }
    assert {skip.path.name: skip.reason for skip in plan.skipped} == {
        "notes.txt": "not a .jpg, .jpeg, .png, .mp4 or .mov file",
        "empty.jpg": "empty file",
        "not-really.png": "named like an image but is neither JPEG nor PNG",
    }
    assert plan.unreadable == []


def test_an_extension_the_bucket_does_not_notify_on_is_spelled_in_lower_case():
    assert object_key("a/IMG_1.Jpg", prefix="") == "a/IMG_1.jpg"
    assert object_key("a/IMG_1.JPG", prefix="p/") == "p/a/IMG_1.JPG"
    assert object_key("Mixed.Case.PnG", prefix="") == "Mixed.Case.png"


def test_a_missing_path_and_a_dangling_link_are_failures_not_silent_skips(tmp_path):
    photo = tmp_path / "ok.png"
    photo.write_bytes(sample("cat-chelsea.png"))
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    plan = plan_uploads([photo, tmp_path / "missing.jpg", tmp_path / "gone.jpg"])
    assert [upload.key for upload in plan.uploads] == ["ok.png"]
    assert {skip.path.name: skip.reason for skip in plan.unreadable} == {
        "missing.jpg": "no such file or folder",
        "gone.jpg": f"broken link to {tmp_path / 'nowhere.jpg'}",
    }


def test_two_files_that_would_share_a_key_upload_only_the_first(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.png").write_bytes(sample("cat-chelsea.png"))
    plan = plan_uploads([tmp_path / "a" / "same.png", tmp_path / "b" / "same.png"])
    assert [upload.key for upload in plan.uploads] == ["same.png"]
    assert "same key 'same.png'" in plan.unreadable[0].reason


def test_upload_wait_labels_a_mixed_folder_and_reports_what_was_skipped(pipeline, mixed_folder):
    run = pipeline.run("upload", str(mixed_folder), "--wait", "--timeout", "20", "--concurrency", "3")

    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert f"skipped   {mixed_folder / 'notes.txt'}: not a .jpg, .jpeg, .png, .mp4 or .mov file" in lines
    assert f"skipped   {mixed_folder / 'empty.jpg'}: empty file" in lines
    assert "labelled  shoot/cats/chelsea.png: Cat 97.8, Animal 97.8, Pet 95.1" in lines
    assert "labelled  shoot/kitchen/morning/coffee cup.jpg: Cup 95.2, Beverage 90.1, Table 75.0" in lines
    assert lines[-1] == "4 uploaded, 3 skipped, 0 failed; 4 labelled, 0 could not be labelled, 0 not done in time"

    head = pipeline.s3.head_object(Bucket=BUCKET, Key="shoot/png-named.jpg")
    assert head["ContentType"] == "image/png"
    assert pipeline.s3.head_object(Bucket=BUCKET, Key="shoot/rocket.JPG")["ContentType"] == "image/jpeg"
    listed = {obj["Key"] for obj in pipeline.s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert listed == {"shoot/cats/chelsea.png", "shoot/kitchen/morning/coffee cup.jpg", "shoot/rocket.JPG", "shoot/png-named.jpg"}
    assert [key for key, _ in images_with_label(pipeline.table, "person")] == ["shoot/png-named.jpg", "shoot/rocket.JPG"]


def test_upload_without_wait_prints_each_key_and_sets_the_prefix(pipeline, tmp_path):
    photo = tmp_path / "chelsea.png"
    photo.write_bytes(sample("cat-chelsea.png"))
    run = pipeline.run("upload", str(photo), "--prefix", "/shoots/2026")
    assert run.code == 0
    assert run.stdout.splitlines() == ["uploaded  shoots/2026/chelsea.png", "1 uploaded, 0 skipped, 0 failed"]
    assert image(pipeline.table, "shoots/2026/chelsea.png")["Status"] == "LABELLED"


def test_wait_is_for_this_upload_not_the_labels_of_an_earlier_version(pipeline, tmp_path):
    pipeline.put("scene.jpg", sample("cat-chelsea.png"))
    assert image(pipeline.table, "scene.jpg")["Status"] == "LABELLED"
    photo = tmp_path / "scene.jpg"
    photo.write_bytes(sample("coffee cup.jpg"))

    # The new version's event arrives 0.4 s after the upload: --wait must not stop at the cat.
    run = pipeline.run("upload", str(photo), "--wait", "--timeout", "20", delay=0.4)

    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[0] == "labelled  scene.jpg: Cup 95.2, Beverage 90.1, Table 75.0"
    assert label_counts(pipeline.table)["Cat"] == 0


def test_an_image_rekognition_refuses_is_reported_with_the_reason(pipeline, tmp_path):
    (tmp_path / "tiny.png").write_bytes(TINY_PNG)
    run = pipeline.run("upload", str(tmp_path / "tiny.png"), "--wait", "--timeout", "20")
    assert run.code == 0  # it went up and was processed; the summary says it has no labels
    assert run.stdout.splitlines() == [
        "unlabelled tiny.png: InvalidParameterException: Request has invalid parameters",
        "1 uploaded, 0 skipped, 0 failed; 0 labelled, 1 could not be labelled, 0 not done in time",
    ]


def test_an_image_the_pipeline_never_labels_times_out_with_a_non_zero_exit(pipeline, tmp_path):
    pipeline.notify = "off"
    (tmp_path / "lost.png").write_bytes(sample("cat-chelsea.png"))
    run = pipeline.run("upload", str(tmp_path / "lost.png"), "--wait", "--timeout", "0.5")
    assert run.code == 1
    assert run.stdout.splitlines()[0] == "waiting   lost.png: not labelled within 0.5 s"


def test_one_unreadable_file_fails_the_exit_code_but_not_the_other_uploads(pipeline, tmp_path):
    (tmp_path / "good.png").write_bytes(sample("cat-chelsea.png"))
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "nowhere")
    run = pipeline.run("upload", str(tmp_path / "good.png"), str(tmp_path / "broken.jpg"))
    assert run.code == 1
    assert f"FAILED    {tmp_path / 'broken.jpg'}: broken link to {tmp_path / 'nowhere'}" in run.stdout
    assert "uploaded  good.png" in run.stdout
    assert image(pipeline.table, "good.png")["Status"] == "LABELLED"


def test_many_files_upload_concurrently_and_every_one_is_labelled(pipeline, tmp_path):
    for n in range(24):
        (tmp_path / f"cat-{n:02}.png").write_bytes(sample("cat-chelsea.png"))
    run = pipeline.run("upload", str(tmp_path), "--wait", "--timeout", "20", "--concurrency", "8", "--json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert len(report["uploaded"]) == 24 and report["skipped"] == [] and report["failed"] == []
    assert {entry["status"] for entry in report["uploaded"]} == {"LABELLED"}
    first = report["uploaded"][0]
    assert first["key"] == f"{tmp_path.name}/cat-00.png" and first["content_type"] == "image/png" and first["version_id"]
    assert first["labels"][0] == {"name": "Cat", "confidence": 97.8}
    assert label_counts(pipeline.table)["Cat"] == 24


def test_nothing_to_upload_says_so(pipeline, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    run = pipeline.run("upload", str(tmp_path))
    assert run.code == 1
    assert "nothing to upload" in run.stderr


def test_a_bucket_that_no_longer_exists_is_one_clear_line(pipeline, tmp_path):
    for version in pipeline.s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
        pipeline.s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    pipeline.s3.delete_bucket(Bucket=BUCKET)
    (tmp_path / "a.png").write_bytes(sample("cat-chelsea.png"))
    run = pipeline.run("upload", str(tmp_path / "a.png"))
    assert run.code == 1
    assert run.stderr.strip() == f"imagelabels: bucket '{BUCKET}' does not exist (the stack's BucketName output): was it deleted?"
    assert "Traceback" not in run.stderr


MIB = 1024 * 1024


def test_films_are_recognised_by_their_bytes_and_a_file_that_lies_about_its_kind_is_skipped(tmp_path):
    (tmp_path / "street.mp4").write_bytes(film(("Car", 0, 1_000, 90.0)))
    (tmp_path / "interview.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 64)
    (tmp_path / "photo.mp4").write_bytes(sample("cat-chelsea.png"))  # an image named like a film
    (tmp_path / "clip.jpg").write_bytes(film(("Car", 0, 1_000, 90.0)))  # a film named like an image
    (tmp_path / "clip.mkv").write_bytes(b"\x1aE\xdf\xa3 matroska")

    plan = plan_uploads([tmp_path])

    base = tmp_path.name
    assert {upload.key: upload.content_type for upload in plan.uploads} == {
        f"{base}/street.mp4": "video/mp4", f"{base}/interview.MOV": "video/quicktime"}
    assert {skip.path.name: skip.reason for skip in plan.skipped} == {
        "photo.mp4": "named like a film but is neither MP4 nor QuickTime (no ftyp box)",
        "clip.jpg": "named like an image but is neither JPEG nor PNG",
        "clip.mkv": "not a .jpg, .jpeg, .png, .mp4 or .mov file",
    }
    assert object_key("a/Holiday.Mp4", prefix="") == "a/Holiday.mp4"  # the bucket notifies .mp4 and .MP4 only


def test_a_large_film_goes_up_in_parts_with_its_progress_in_bytes_and_wait_prints_its_labels(pipeline, tmp_path):
    body = film(("Horse", 0, 3_000, 93.4), ("Beach", 1_000, 9_000, 88.0), size=11 * MIB)
    (tmp_path / "holiday.mp4").write_bytes(body)
    calls = []
    pipeline.session_hooks.append(("before-call.s3", lambda model, **kwargs: calls.append(model.name)))

    run = pipeline.run("upload", str(tmp_path / "holiday.mp4"), "--part-size", "5", "--wait", "--progress")

    assert run.code == 0, run.stderr
    assert sorted(calls) == ["CompleteMultipartUpload", "CreateMultipartUpload"] + ["UploadPart"] * 3
    assert run.stdout.splitlines() == [
        "labelled  holiday.mp4: Horse 93.4, Beach 88.0",
        "1 uploaded, 0 skipped, 0 failed; 1 labelled, 0 could not be labelled, 0 not done in time",
    ]
    assert "uploading 1 file(s) [##############################] 11.0 MB/11.0 MB" in run.stderr
    stored = pipeline.s3.get_object(Bucket=BUCKET, Key="holiday.mp4")
    assert stored["ContentType"] == "video/mp4" and stored["Body"].read() == body


def test_wait_json_gives_a_films_labels_with_their_segments_for_this_very_version(pipeline, tmp_path):
    pipeline.put("scene.mp4", film(("Cat", 0, 1_000, 99.0)))  # an earlier version, labelled
    (tmp_path / "scene.mp4").write_bytes(film(("Dog", 2_000, 4_500, 91.0)))

    run = pipeline.run("upload", str(tmp_path / "scene.mp4"), "--wait", "--json")

    assert run.code == 0, run.stderr
    [uploaded] = run.json()["uploaded"]
    assert (uploaded["content_type"], uploaded["status"]) == ("video/mp4", "LABELLED")
    assert uploaded["labels"] == [{"name": "Dog", "confidence": 91.0, "segments": [{"start_ms": 2_000, "end_ms": 4_500}]}]
    assert image(pipeline.table, "scene.mp4")["VersionId"] == uploaded["version_id"]


def test_a_film_still_being_labelled_waits_for_its_own_timeout(pipeline, tmp_path):
    pipeline.films.auto = False  # the job runs longer than anyone waits
    (tmp_path / "long.mp4").write_bytes(film(("Car", 0, 1_000, 90.0)))
    (tmp_path / "chelsea.png").write_bytes(sample("cat-chelsea.png"))

    run = pipeline.run("upload", str(tmp_path / "long.mp4"), str(tmp_path / "chelsea.png"), "--wait",
                       "--timeout", "20", "--film-timeout", "0.5")

    assert run.code == 1
    assert run.stdout.splitlines() == [
        "waiting   long.mp4: not labelled within 0.5 s",
        "labelled  chelsea.png: Cat 97.8, Animal 97.8, Pet 95.1",
        "2 uploaded, 0 skipped, 0 failed; 1 labelled, 0 could not be labelled, 1 not done in time",
    ]
