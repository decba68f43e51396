"""Runtime of the image-labels pipeline: runs in AWS Lambda, standard library and boto3 only."""
