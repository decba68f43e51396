"""The label table as every part of the app reads and writes it: its layout, paginated reads,
search, and film segments. Runs in Lambda (stdlib + boto3 only) and in the `imagelabels` command,
which packages it (pyproject.toml)."""
