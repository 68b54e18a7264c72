"""Build the Lambda layers for one or both architectures, without Docker.

    python layers/build.py [--arch arm64|x86_64|all] [--out build/layers]

Dependencies layer: the runtime lock (`requirements/runtime.txt` for arm64,
`requirements/runtime-x86_64.txt` for x86_64) installed with
`pip install --platform <manylinux tags> --only-binary=:all: --python-version 3.12 --implementation cp
--no-deps --target <out>/<arch>/deps/python`, minus what the Lambda runtime already provides
(boto3, botocore, s3transfer). A package without a wheel for the target fails the build and is named.
Its modules are then compiled to Python 3.12 bytecode (`layers/bytecode.py`).

Model layer: delegated to the ML room's `layers/model/build.py --arch A --out DIR` when it exists; it
must leave the model files in `DIR/model/` (mounted at /opt/model).

Prints the unzipped size of each layer; fails if one exceeds the budget (Lambda allows 250 MB for a
function and all its layers, unzipped).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layers.bytecode import RUNTIME_VERSION, compile_for_runtime  # noqa: E402

LOCKS = {
    "arm64": ROOT / "requirements" / "runtime.txt",
    "x86_64": ROOT / "requirements" / "runtime-x86_64.txt",
}
MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda python3.12 runs on Amazon Linux 2023 (glibc 2.34): any manylinux tag up to 2_34 loads.
GLIBC_TAGS = ("manylinux2014", "manylinux_2_17", "manylinux_2_24", "manylinux_2_28", "manylinux_2_34")
PYTHON_VERSION = "{}.{}".format(*RUNTIME_VERSION)  # the functions' runtime (infra/functions.py RUNTIME)
PROVIDED_BY_RUNTIME = {"boto3", "botocore", "s3transfer"}
FORBIDDEN_IN_DEPS = {"pandas", "xgboost", "scikit-learn", "numpy", "scipy"}
# pip itself is pinned: the pip a fresh venv bundles (23.x with Python 3.11) checks Requires-Python
# against the running interpreter instead of --python-version, and refuses cp312-only releases.
PIP_VERSION = "26.3"
LAYER_BUDGET_MB = 150  # of Lambda's 250 MB: room left for the function code and the model layer
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # pip colours its errors when run under npx (FORCE_COLOR)


class BuildError(RuntimeError):
    pass


def pinned_requirements(lock: Path) -> list[tuple[str, str]]:
    if not lock.is_file():
        raise BuildError(f"{lock.relative_to(ROOT)} is missing; run `make lock`")
    pins = []
    for line in lock.read_text().splitlines():
        match = _REQUIREMENT.match(line.strip())
        if match:
            pins.append((match.group(1).lower(), match.group(2)))
    if not pins:
        raise BuildError(f"{lock} pins no package")
    return pins


def platform_tags(arch: str) -> list[str]:
    return [f"{tag}_{MACHINE[arch]}" for tag in GLIBC_TAGS]


def build_deps_layer(arch: str, out: Path) -> Path:
    pins = pinned_requirements(LOCKS[arch])
    forbidden = sorted(name for name, _ in pins if name in FORBIDDEN_IN_DEPS)
    if forbidden:
        raise BuildError(f"the runtime lock pins {forbidden}: the scoring path must not ship them")
    wanted = [f"{name}=={version}" for name, version in pins if name not in PROVIDED_BY_RUNTIME]
    layer = out / arch / "deps"
    target = layer / "python"
    if layer.exists():
        shutil.rmtree(layer)
    target.mkdir(parents=True)
    requirements = layer / "requirements.txt"
    requirements.write_text("\n".join(wanted) + "\n")
    wheelhouse = out / "wheelhouse"
    built_here: set[str] = set()
    while True:
        result = _pip_install(arch, target, requirements, wheelhouse)
        if result.returncode == 0:
            break
        missing = missing_distributions(result.stderr)
        retry = [spec for spec in missing if spec not in built_here]
        if not retry:
            detail = (
                f"no wheel for {arch} ({', '.join(platform_tags(arch))}, cp312): {missing}" if missing else ""
            )
            raise BuildError(f"dependencies layer for {arch} failed. {detail}\n{_errors(result.stderr)}")
        for spec in retry:
            _build_pure_wheel(spec, wheelhouse)
            built_here.add(spec)
    compiled = compile_for_runtime(target, f"the {arch} dependencies layer", cache=None)
    if compiled is not None:
        print(f"{arch:7} deps      {compiled.summary()}")
    return layer


def pip_command() -> list[str]:
    """The pinned pip, run by the project's pinned uv (installed by `make install`)."""
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        found = shutil.which("uv")
        if found is None:
            raise BuildError("uv is missing: run `make install`")
        uv = Path(found)
    return [str(uv), "tool", "run", "--quiet", "--from", f"pip=={PIP_VERSION}", "pip"]


def _pip_install(
    arch: str, target: Path, requirements: Path, wheelhouse: Path
) -> subprocess.CompletedProcess[str]:
    command = [
        *pip_command(), "install", "--quiet", "--disable-pip-version-check", "--no-color", "--no-compile",
        "--no-deps", "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION,
        *[arg for tag in platform_tags(arch) for arg in ("--platform", tag)],
        "--find-links", str(wheelhouse), "--target", str(target), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    result.stderr = _ANSI.sub("", result.stderr)
    return result


def _build_pure_wheel(spec: str, wheelhouse: Path) -> None:
    """A package published as an sdist only: build its wheel here, and accept it only if it is pure
    Python (`py3-none-any`), i.e. identical for every architecture. Anything with native code fails."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    before = set(wheelhouse.glob("*.whl"))
    name = spec.split("==")[0]
    result = subprocess.run(
        [
            *pip_command(),
            "wheel",
            "--quiet",
            "--no-color",
            "--no-deps",
            "--no-binary",
            name,
            spec,
            "-w",
            str(wheelhouse),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    built = set(wheelhouse.glob("*.whl")) - before
    if result.returncode != 0 or not built:
        raise BuildError(f"{spec} has no wheel and its sdist does not build:\n{_errors(result.stderr)}")
    for wheel in built:
        if not wheel.name.endswith("-none-any.whl"):
            wheel.unlink()
            raise BuildError(
                f"{spec} has no wheel for the target and its sdist builds native code ({wheel.name})"
            )
        print(f"built pure-Python wheel {wheel.name} from the sdist of {spec}", file=sys.stderr)


def missing_distributions(stderr: str) -> list[str]:
    """The `name==version` pip could not find a distribution for (colour codes removed)."""
    return re.findall(r"No matching distribution found for (\S+)", _ANSI.sub("", stderr))


def _errors(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("WARNING: Location")]
    return "\n".join(lines)[-2000:]


def build_model_layer(arch: str, out: Path) -> Path | None:
    recipe = ROOT / "layers" / "model" / "build.py"
    if not recipe.is_file():
        print(f"model layer: {recipe.relative_to(ROOT)} does not exist yet; skipped", file=sys.stderr)
        return None
    layer = out / arch / "model"
    subprocess.run([sys.executable, str(recipe), "--arch", arch, "--out", str(layer)], check=True)
    if not (layer / "model").is_dir():
        raise BuildError(f"{recipe.relative_to(ROOT)} left no {layer / 'model'} directory")
    return layer


def unzipped_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["arm64", "x86_64", "all"], default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "layers")
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args(argv)
    arches = ["arm64", "x86_64"] if args.arch == "all" else [args.arch]
    try:
        for arch in arches:
            layers: list[Path | None] = [build_deps_layer(arch, args.out)]
            if not args.skip_model:
                layers.append(build_model_layer(arch, args.out))
            total = 0
            for layer in (layer for layer in layers if layer is not None):
                size = unzipped_size(layer)
                total += size
                print(f"{arch:7} {layer.name:6} {size / 1e6:8.1f} MB unzipped  ({layer})")
                if size > LAYER_BUDGET_MB * 1e6:
                    raise BuildError(f"{layer} is {size / 1e6:.1f} MB, over the {LAYER_BUDGET_MB} MB budget")
            print(f"{arch:7} total  {total / 1e6:8.1f} MB unzipped of Lambda's 250 MB")
    except BuildError as error:
        print(f"layer build failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
