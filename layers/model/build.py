"""Build the model Lambda layer from one registry version, without Docker.

    python layers/model/build.py [--arch arm64|x86_64|all] [--version V] [--registry DIR] --out DIR [--zip FILE]

Leaves `DIR/model/` = manifest.json + the compiled library (or libraries) for the architecture; Lambda
unpacks a layer into /opt, so the function sees `/opt/model/manifest.json` and loads it with
`TG_MODEL_DIR=/opt/model`. The training report, plots and the XGBoost JSON stay out (the manifest still
lists their SHA-256; the loader checks every file that is present and requires the library).
Every copied file is checked against the manifest first: a tampered version never becomes a layer.
`--zip` also writes a deterministic zip of the same tree (fixed timestamps and order).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.errors import TicketGuardError  # noqa: E402
from shared.model import ARTIFACTS_ROOT, resolve_model_dir  # noqa: E402
from shared.model.manifest import MANIFEST_NAME, read_manifest, verify_files  # noqa: E402

LAMBDA_ARCH = {"arm64": "aarch64", "aarch64": "aarch64", "x86_64": "x86_64"}
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def build_model_layer(out: Path, architectures: list[str], version_dir: Path) -> Path:
    manifest = read_manifest(version_dir)
    libraries = [manifest.libraries.get(arch) for arch in architectures]
    missing = [arch for arch, lib in zip(architectures, libraries, strict=True) if lib is None]
    if missing:
        raise SystemExit(f"model {manifest.version} has no library for {missing}")
    wanted = [MANIFEST_NAME, *(lib for lib in libraries if lib)]
    verify_files(manifest, required=tuple(wanted[1:]))
    target = out / "model"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in wanted:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(version_dir / name, destination)
    return target


def write_zip(layer_root: Path, zip_path: Path) -> Path:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(layer_root.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(layer_root).as_posix(), date_time=ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["arm64", "aarch64", "x86_64", "all"], default="all")
    parser.add_argument(
        "--registry", type=Path, default=ARTIFACTS_ROOT, help="registry root (default model_artifacts/)"
    )
    parser.add_argument("--version", help="version directory name (default: the one in CURRENT)")
    parser.add_argument("--out", type=Path, required=True, help="layer directory; the files go to OUT/model/")
    parser.add_argument("--zip", type=Path, help="also write the layer as this zip file")
    args = parser.parse_args(argv)
    architectures = ["x86_64", "aarch64"] if args.arch == "all" else [LAMBDA_ARCH[args.arch]]
    try:
        version_dir = args.registry / args.version if args.version else resolve_model_dir(args.registry)
        target = build_model_layer(args.out, architectures, version_dir)
    except TicketGuardError as exc:
        print(f"model layer: {exc.message}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"model layer {version_dir.name} ({', '.join(architectures)}): {target} ({size / 1024:.0f} KiB)")
    if args.zip:
        print(f"zip: {write_zip(args.out, args.zip)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
