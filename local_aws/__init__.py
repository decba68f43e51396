"""Local AWS: run the real stack with no AWS account."""
