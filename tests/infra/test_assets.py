"""Function packages and layers: what ships, what must not."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from infra.assets import PROJECT_ROOT, heavy_packages_in, stage_function_code
from layers import build as layer_build
from layers import bytecode
from tests.fixtures.environment import missing_environment

pytestmark = pytest.mark.xdist_group("infra")

RUNTIME_TAG = "cpython-{}{}".format(*bytecode.RUNTIME_VERSION)


def _runtime_interpreter() -> Path:
    interpreter = bytecode.find_interpreter()
    if interpreter is None:
        missing_environment(
            f"no Python {layer_build.PYTHON_VERSION} to compile the packages' bytecode",
            f"`uv python install {layer_build.PYTHON_VERSION}`, or RUNTIME_PYTHON naming one",
        )
    return interpreter


def _without_runtime_bytecode(directory: Path) -> list[str]:
    return sorted(
        str(source.relative_to(directory))
        for source in directory.rglob("*.py")
        if not bytecode.pyc_path(source, RUNTIME_TAG).is_file()
    )


def test_given_the_migrations_function_when_staged_then_it_holds_shared_without_training_or_local_code(
    tmp_path,
):
    staged = stage_function_code("migrations", tmp_path)
    assert (staged / "functions" / "__init__.py").is_file()
    assert (staged / "functions" / "migrations" / "handler.py").is_file()
    assert (staged / "shared" / "db" / "migrations.py").is_file()
    assert list((staged / "shared" / "db" / "migrations").glob("0001_*.sql"))
    # And none of the tooling or training, which live outside shared/ (nothing is filtered out)
    assert not (staged / "tooling").exists() and not (staged / "training").exists()
    assert not list(staged.rglob("simulator")) and not list(staged.rglob("train.py"))
    # The working tree's bytecode caches stay behind: the only ones shipped are the runtime's
    assert {pyc.name.split(".")[-2] for pyc in staged.rglob("*.pyc")} <= {RUNTIME_TAG}
    assert not (staged / "functions" / "score").exists()  # only its own folder


def test_given_a_missing_handler_when_staging_then_it_fails_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"functions/nope/handler\.py"):
        stage_function_code("nope", tmp_path)


def test_given_the_synthesized_app_then_the_score_package_holds_no_pandas_xgboost_or_sklearn(dev_synth):
    score = dev_synth.staging / "score"
    if not score.exists():
        pytest.fail("the score function was not packaged (functions/score/handler.py missing?)")
    assert heavy_packages_in(score) == []
    imports = [
        path
        for path in (score / "functions" / "score").rglob("*.py")
        if any(f"import {lib}" in path.read_text() for lib in ("pandas", "xgboost", "sklearn"))
    ]
    assert imports == []


def test_given_the_synthesized_app_then_every_module_of_the_score_package_has_the_runtimes_bytecode(
    dev_synth,
):
    # Given a Python of the runtime's version on this machine (the synth compiled with it)
    _runtime_interpreter()
    # Then the score function's asset, as CDK zips and uploads it, has each module's pyc for the runtime:
    # no cold start compiles them
    [asset] = [path.parents[2] for path in dev_synth.outdir.glob("asset.*/functions/score/handler.py")]
    assert list(asset.rglob("*.py")) and _without_runtime_bytecode(asset) == []


LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda's CodeSizeUnzipped: a function's package and its layers


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_given_the_score_package_with_its_bytecode_and_its_layers_then_they_fit_lambdas_unzipped_limit(
    dev_synth, arch
):
    # Given the score package as the synth staged it and both layers as built (bytecode included)
    layers = PROJECT_ROOT / "build" / "layers" / arch
    if not (layers / "deps").is_dir():
        missing_environment(f"{layers} is not built", "`make test` builds the layers (make layers)")
    # Then together they are within Lambda's limit for a function's package and its layers
    total = layer_build.unzipped_size(dev_synth.staging / "score") + layer_build.unzipped_size(layers)
    assert total < LAMBDA_UNZIPPED_LIMIT


def test_given_a_directory_with_a_heavy_package_when_scanned_then_it_is_found(tmp_path):
    (tmp_path / "pandas").mkdir()
    (tmp_path / "xgboost-3.2.dist-info").mkdir()
    (tmp_path / "fine.py").write_text("")
    assert heavy_packages_in(tmp_path) == ["pandas", "xgboost-3.2.dist-info"]


def test_given_the_runtime_locks_then_they_pin_nothing_heavy_and_both_architectures_agree():
    arm = dict(layer_build.pinned_requirements(layer_build.LOCKS["arm64"]))
    x86 = dict(layer_build.pinned_requirements(layer_build.LOCKS["x86_64"]))
    assert set(arm) & layer_build.FORBIDDEN_IN_DEPS == set()
    assert arm == x86


def test_given_an_architecture_then_every_platform_tag_targets_it_and_glibc_at_most_2_34():
    for arch, machine in (("arm64", "aarch64"), ("x86_64", "x86_64")):
        tags = layer_build.platform_tags(arch)
        assert all(tag.endswith(f"_{machine}") for tag in tags)
        assert f"manylinux_2_28_{machine}" in tags  # psycopg-binary's aarch64 wheels need it
        assert not any("2_35" in tag or "2_39" in tag for tag in tags)


def test_given_a_lock_pinning_pandas_when_building_then_the_build_refuses(tmp_path, monkeypatch):
    lock = tmp_path / "runtime.txt"
    lock.write_text("pandas==2.2.3\nredis==6.0.0\n")
    monkeypatch.setitem(layer_build.LOCKS, "arm64", lock)
    with pytest.raises(layer_build.BuildError, match="pandas"):
        layer_build.build_deps_layer("arm64", tmp_path / "out")


ELF_MACHINES = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64


def _elf_machine(path: Path) -> int | None:
    with path.open("rb") as handle:
        header = handle.read(20)
    if header[:4] != b"\x7fELF":
        return None
    return struct.unpack("<H", header[18:20])[0]


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_given_a_built_deps_layer_then_every_native_library_is_for_its_architecture(arch):
    layer = PROJECT_ROOT / "build" / "layers" / arch / "deps" / "python"
    if not layer.is_dir():
        missing_environment(f"{layer} is not built", "`make test` builds the layers (make layers)")
    libraries = [path for path in layer.rglob("*.so*") if path.is_file()]
    assert libraries, "a deps layer without native code: psycopg-binary, pydantic-core are missing"
    wrong = [str(path) for path in libraries if _elf_machine(path) not in (None, ELF_MACHINES[arch])]
    assert wrong == []
    # hiredis, redis-py's compiled reply parser and command packer (issue 29), built for this architecture
    machine = layer_build.MACHINE[arch]
    assert list((layer / "hiredis").glob(f"hiredis.cpython-312-{machine}-linux-gnu.so"))
    assert not (layer / "boto3").exists() and not (layer / "botocore").exists()
    assert heavy_packages_in(layer) == []
    assert layer_build.unzipped_size(layer.parent) < layer_build.LAYER_BUDGET_MB * 1e6


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_given_a_built_deps_layer_then_the_modules_the_score_function_imports_have_the_runtimes_bytecode(
    arch,
):
    layer = PROJECT_ROOT / "build" / "layers" / arch / "deps" / "python"
    if not layer.is_dir():
        missing_environment(f"{layer} is not built", "`make test` builds the layers (make layers)")
    _runtime_interpreter()
    for package in ("pydantic", "pydantic_core", "psycopg", "psycopg_pool", "redis", "aws_lambda_powertools"):
        assert _without_runtime_bytecode(layer / package) == [], package


def test_given_pip_errors_in_colour_when_parsed_then_the_missing_distribution_is_clean():
    # Under `npx cdk synth` pip colours its stderr (FORCE_COLOR): the spec must not carry the codes.
    stderr = (
        "\x1b[31mERROR: Could not find a version that satisfies the requirement geoip2fast==1.2.2\x1b[0m\n"
        "\x1b[31mERROR: No matching distribution found for geoip2fast==1.2.2\x1b[0m\x1b[31m\x1b[0m\n"
    )
    assert layer_build.missing_distributions(stderr) == ["geoip2fast==1.2.2"]
