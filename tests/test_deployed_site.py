"""local_aws/deployed_site.py and local_aws/page_user.py without a server: the headers CloudFront adds
for a response headers policy, and the demo user's passwords (the deployed path is
tests/test_local_deploy.py's)."""

from __future__ import annotations

import string

import pytest

from local_aws.deployed_site import response_headers
from local_aws.page_user import new_password


def test_a_policy_gives_the_headers_cloudfront_adds():
    policy = {
        "Name": "page",
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {"ContentSecurityPolicy": "default-src 'none'", "Override": True},
            "ContentTypeOptions": {"Override": True},
            "FrameOptions": {"FrameOption": "DENY", "Override": True},
            "ReferrerPolicy": {"ReferrerPolicy": "same-origin", "Override": True},
            "StrictTransportSecurity": {"AccessControlMaxAgeSec": 31536000, "IncludeSubdomains": True,
                                        "Preload": "true", "Override": True},
            "XSSProtection": {"Protection": True, "ModeBlock": True, "Override": True},
        },
        "CustomHeadersConfig": {"Items": [{"Header": "Permissions-Policy", "Value": "camera=()", "Override": True}]},
    }
    assert response_headers(policy) == {
        "Content-Security-Policy": "default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
        "X-XSS-Protection": "1; mode=block",
        "Permissions-Policy": "camera=()",
    }


def test_a_policy_without_security_headers_adds_none():
    assert response_headers({"Name": "plain"}) == {}
    assert response_headers({"SecurityHeadersConfig": {"StrictTransportSecurity": {
        "AccessControlMaxAgeSec": "600", "IncludeSubdomains": "false"}}}) == {"Strict-Transport-Security": "max-age=600"}


def test_demo_passwords_meet_the_pools_policy_and_differ():
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 16
        for characters in (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.!#%+="):
            assert any(character in characters for character in password), password


def test_a_missing_or_unknown_page_is_a_clear_error(tmp_path):
    from imagelabels.errors import UserError
    from imagelabels.local_endpoint import pages_file, read_page_url, write_page_urls

    path = pages_file(tmp_path)
    with pytest.raises(UserError, match="serves no web page"):
        read_page_url(path, "E1")
    write_page_urls(path, {"E1": "http://127.0.0.1:5000/"})
    assert read_page_url(path, "E1") == "http://127.0.0.1:5000/"
    with pytest.raises(UserError, match="no page for distribution E2"):
        read_page_url(path, "E2")
    path.write_text("{not json")
    with pytest.raises(UserError, match="cannot read"):
        read_page_url(path, "E1")
