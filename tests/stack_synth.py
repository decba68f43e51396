"""Synthesizes the app the way app.py does, for assertion tests. Synthesis costs seconds:
call it once per module (module-scoped fixtures)."""

from __future__ import annotations

from aws_cdk import App
from aws_cdk.assertions import Template

from conftest import cdk_json_context


def synth_template(outdir: str | None = None, **context) -> Template:
    import app as entry  # the repository's app.py

    app = App(context=cdk_json_context(**context), outdir=outdir)
    stack = entry.build_app(app)
    app.synth()  # runs the cdk-nag packs: raises on any unacknowledged finding
    return Template.from_stack(stack)
