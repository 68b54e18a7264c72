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
        "Alias": {"Ref": "FunctionsScoreCurrentVersion7B2553F449af3dc8326fe8cd39f02b1e4c32fa56"},
        "Bucket": {"Ref": "Archive7B2553F449af3dc8326fe8cd39f02b1e"},  # a logical id's own hash stays
    }
    masked = without_asset_hashes(template)
    assert masked["Code"]["S3Key"] == f"{PLACEHOLDER}.zip"
    assert masked["Metadata"]["aws:asset:path"] == f"asset.{PLACEHOLDER}"
    assert masked["Image"].endswith(f":{PLACEHOLDER}") and "${AWS::AccountId}" in masked["Image"]
    assert masked["Fingerprint"] == HASH
    assert masked["Alias"]["Ref"] == f"FunctionsScoreCurrentVersion7B2553F4{PLACEHOLDER}"
    assert masked["Bucket"]["Ref"] == "Archive7B2553F449af3dc8326fe8cd39f02b1e"


def test_given_a_function_version_as_a_resource_key_when_masked_then_its_logical_id_is_masked_too():
    version_id = "FunctionsScoreCurrentVersion7B2553F449af3dc8326fe8cd39f02b1e4c32fa56"
    template = {"Resources": {version_id: {"Type": "AWS::Lambda::Version"}}}
    masked = without_asset_hashes(template)
    assert masked["Resources"] == {
        f"FunctionsScoreCurrentVersion7B2553F4{PLACEHOLDER}": {"Type": "AWS::Lambda::Version"}
    }
