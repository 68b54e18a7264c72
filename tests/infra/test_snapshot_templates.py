"""The template snapshot used to compare synthesized templates across commits."""

from __future__ import annotations

from infra.snapshot_templates import PLACEHOLDER, without_asset_hashes

HASH = "0123456789abcdef" * 4


def test_given_asset_names_when_masked_then_code_hashes_become_the_placeholder_and_other_hashes_stay():
    template = {
        "Code": {"S3Key": f"{HASH}.zip"},
        "Metadata": {"aws:asset:path": f"asset.{HASH}"},
        "Image": f"1.dkr.ecr.eu-west-1.${{AWS::URLSuffix}}/cdk-hnb659fds-container-assets-${{AWS::AccountId}}:{HASH}",
        "Fingerprint": HASH,  # the migrations' fingerprint: a real change when it changes
    }
    masked = without_asset_hashes(template)
    assert masked["Code"]["S3Key"] == f"{PLACEHOLDER}.zip"
    assert masked["Metadata"]["aws:asset:path"] == f"asset.{PLACEHOLDER}"
    assert masked["Image"].endswith(f":{PLACEHOLDER}") and "${AWS::AccountId}" in masked["Image"]
    assert masked["Fingerprint"] == HASH
