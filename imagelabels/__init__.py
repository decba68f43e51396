"""imagelabels: upload images to the image-labels bucket and find them by what is in them.

Standard library and boto3 only, and no import of aws_cdk: the command has to start fast.
"""

__version__ = "0.1.0"
