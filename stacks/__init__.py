"""CDK constructs of the image-labels pipeline. Infrastructure only: runtime code lives in lambda_src/."""
