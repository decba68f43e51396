"""`imagelabels ... | head -1`: a reader that stops early ends the command quietly, as it ends
other Unix tools, instead of with "imagelabels: [Errno 32] Broken pipe".

The installed command (`python -m imagelabels`, a subprocess) runs against a moto server holding a
stack's outputs and one image with more labels than a pipe's buffer holds as a table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cli_harness import REGION, STACK_NAME, create_stack
from label_table.layout import IMAGE_ENTRY, STATUS_LABELLED
from label_table_in_moto import create_label_table

ROOT = Path(__file__).resolve().parent.parent
TABLE = "imagelabels-closed-pipe-labels"
KEY = "many-labels.jpg"
SMALL_KEY = "one-label.jpg"
# Each a table row of about 30 bytes: about 120 KB, more than Linux's 64 KB pipe buffer.
LABEL_COUNT = 4000
CLOSED_PIPE_STATUS = 141  # 128 + SIGPIPE, as a shell reports `yes | head -1`


@pytest.fixture(scope="module")
def endpoint_url():
    from moto.moto_api._internal.models import moto_api_backend

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        url = "http://127.0.0.1:%d" % server.get_host_and_port()[1]
        table = create_label_table(boto3.resource("dynamodb", region_name=REGION, endpoint_url=url), TABLE)
        labels = [{"Name": f"Label {number:04d}", "Confidence": 90, "Parents": ["Thing"], "Instances": []}
                  for number in range(LABEL_COUNT)]
        for key, image_labels in ((KEY, labels), (SMALL_KEY, labels[:1])):
            table.put_item(Item={"ImageId": key, "Entry": IMAGE_ENTRY, "Key": key, "Status": STATUS_LABELLED,
                                 "Labels": image_labels})
        create_stack(outputs={"TableName": TABLE}, endpoint_url=url)
        yield url
    finally:
        server.stop()
        moto_api_backend.reset()  # the next module in this worker starts from an empty moto


def start_show(endpoint_url: str, *, stdout, key: str = KEY) -> subprocess.Popen:
    command = [sys.executable, "-m", "imagelabels", "--endpoint-url", endpoint_url, "--region", REGION,
               "--stack", STACK_NAME, "show", key]
    # Buffered as in a user's shell (this test run may set PYTHONUNBUFFERED): short answers reach
    # the pipe only at the last flush.
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**environment, "PYTHONPATH": str(ROOT)})


def test_the_whole_table_is_more_than_a_pipe_buffer(endpoint_url):
    shown = start_show(endpoint_url, stdout=subprocess.PIPE)
    table, errors = shown.communicate(timeout=120)
    assert shown.returncode == 0, errors
    assert len(table) > 65536 and table.decode().count("\n") > LABEL_COUNT


def test_a_reader_that_stops_after_the_first_line_ends_the_command_quietly(endpoint_url):
    shown = start_show(endpoint_url, stdout=subprocess.PIPE)
    first_line = shown.stdout.readline()
    shown.stdout.close()  # what `| head -1` does next
    errors = shown.stderr.read()
    shown.wait(timeout=120)
    assert first_line.decode().startswith(KEY)
    assert errors == b""
    assert shown.returncode == CLOSED_PIPE_STATUS


def test_a_reader_gone_before_a_short_answer_ends_the_command_quietly(endpoint_url):
    """A few lines stay in Python's buffer until the last flush, which meets the closed pipe."""
    reader, writer = os.pipe()
    os.close(reader)
    with os.fdopen(writer, "wb") as closed_pipe:
        shown = start_show(endpoint_url, stdout=closed_pipe, key=SMALL_KEY)
    errors = shown.stderr.read()
    shown.wait(timeout=120)
    assert errors == b""
    assert shown.returncode == CLOSED_PIPE_STATUS
