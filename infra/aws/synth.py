"""`make synth`: the CloudFormation template into cdk.out/ (no AWS account needed).

python -m infra.aws.synth [--stage prod] [--layer-dir layers/build] [--out cdk.out]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def synth(outdir: str | Path, layer_dir: str | Path, stage: str = "prod", nag: bool = True) -> Path:
    """Synthesize the stack; returns the template's path."""
    _app, stack = build(outdir, layer_dir, stage, nag)
    return Path(outdir) / f"{stack.stack_name}.template.json"


def build(
    outdir: str | Path, layer_dir: str | Path, stage: str = "prod", nag: bool = True
) -> tuple[Any, Any]:
    """Build and synthesize the app; returns (app, stack). Sets the table prefix before the models
    are imported, so the tables and the functions' settings agree."""
    prefix = f"parkcharge-{stage}-"
    os.environ["PARKCHARGE_TABLE_PREFIX"] = prefix
    os.environ.setdefault("AWS_DEFAULT_REGION", "cn-north-1")
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.aws.stack import ParkchargeStack

    cwd = os.getcwd()
    os.chdir(Path(outdir).parent)  # chalice.out/ (the construct's work dir) goes next to cdk.out
    try:
        app = cdk.App(outdir=str(outdir))
        stack = ParkchargeStack(
            app, f"parkcharge-{stage}", stage=stage, layer_dir=layer_dir, table_prefix=prefix
        )
        if nag:
            cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
        app.synth()
    finally:
        os.chdir(cwd)
    return app, stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--layer-dir", default=str(ROOT / "layers" / "build"))
    parser.add_argument("--out", default=str(ROOT / "cdk.out"))
    args = parser.parse_args()
    layer = Path(args.layer_dir)
    if not (layer / "python").exists():
        from infra.aws.build_layer import build

        print("building the Lambda layer from requirements.lock ...", file=sys.stderr)
        build(layer)
    print(synth(Path(args.out).resolve(), layer.resolve(), args.stage))


if __name__ == "__main__":
    main()
