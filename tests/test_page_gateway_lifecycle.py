"""The page gateways live and die with the local AWS that serves them (LocalAws.serve_distribution)."""

from __future__ import annotations

import pytest

from local_aws.served_site import ServedSite
from local_aws.server import LocalAws, LocalAwsError
from page_gateway_fixtures import http_call


def site() -> ServedSite:
    return ServedSite(site_bucket="no-such-site-bucket", default_root_object="index.html")


def test_stopping_the_local_aws_stops_its_pages(tmp_path):
    with LocalAws(state_dir=tmp_path) as aws:
        urls = [aws.serve_distribution(distribution_id, site) for distribution_id in ("E1", "E2")]
        assert len(set(urls)) == 2  # one port per distribution
        for url in urls:  # served: a bucket that is not there is denied as S3 denies CloudFront's principal
            assert http_call("GET", url)[0] == 403
    for url in urls:
        with pytest.raises(OSError):
            http_call("GET", url)


def test_a_local_aws_that_is_not_running_serves_no_page(tmp_path):
    with pytest.raises(LocalAwsError):
        LocalAws(state_dir=tmp_path).serve_distribution("E1", site)
