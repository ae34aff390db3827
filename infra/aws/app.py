"""CDK app entry for the cdk CLI: `cdk deploy --app "python -m infra.aws.app"` (after `make synth`
built the layer). The stage comes from the context: `-c stage=prod`."""

from __future__ import annotations

from pathlib import Path

from infra.aws.synth import ROOT, synth

if __name__ == "__main__":
    import os

    stage = os.environ.get("PARKCHARGE_STAGE", "prod")
    synth(Path(os.environ.get("CDK_OUTDIR", ROOT / "cdk.out")).resolve(), ROOT / "layers" / "build", stage)
