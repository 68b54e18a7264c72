"""XGBoost booster -> Treelite model -> tl2cgen C code + our native TreeSHAP -> one shared library per
Lambda architecture (x86_64 with gcc, arm64 with Debian's gcc-aarch64-linux-gnu), each checked to need
no GLIBC symbol newer than Amazon Linux 2023's 2.34.

The tree tables for TreeSHAP are exported from the booster's own JSON (split feature, float32
threshold, default direction, leaf value, cover = sum of hessians) into a generated C file, so the
contributions walk exactly the trees the predictor walks.
"""

from __future__ import annotations

import json
import math
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError
from shared.model.layout import library_name

NATIVE_DIR = Path(__file__).with_name("native")
ARCHITECTURES = ("x86_64", "aarch64")
MAX_GLIBC = (2, 34)  # Amazon Linux 2023, the Lambda python3.12 runtime
QEMU_SYSROOT = "/usr/aarch64-linux-gnu"
CFLAGS = ("-O3", "-std=gnu99", "-fPIC", "-shared", "-Wall", "-Wno-unused-variable", "-Wno-unused-function")
# -Bsymbolic: our batch/contribution code calls *this* library's predict(), never another one's.
LDFLAGS = ("-pthread", "-Wl,-Bsymbolic", "-Wl,--as-needed", "-lm")
TOOLCHAIN_HINT = (
    "install it with `make toolchain` (Debian: gcc-aarch64-linux-gnu qemu-user binutils-aarch64-linux-gnu)"
)


@dataclass
class TreeTables:
    """All trees of a booster flattened into parallel arrays (node ids are global)."""

    n_features: int
    base_margin: float
    roots: list[int] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    default_left: list[int] = field(default_factory=list)
    leaf_value: list[float] = field(default_factory=list)
    cover: list[float] = field(default_factory=list)
    max_depth: int = 0


def base_margin_of(model_json: dict[str, Any]) -> float:
    learner = model_json["learner"]
    objective = learner["objective"]["name"]
    if objective != "binary:logistic":
        raise ConfigurationError(f"only binary:logistic models are compiled, not {objective}")
    base_score = float(str(learner["learner_model_param"]["base_score"]).strip("[]").split(",")[0])
    return math.log(base_score / (1.0 - base_score))


def tree_tables(model_json: dict[str, Any]) -> TreeTables:
    learner = model_json["learner"]
    n_features = int(learner["learner_model_param"]["num_feature"])
    booster = learner["gradient_booster"]
    if booster.get("name") != "gbtree":
        raise ConfigurationError(f"only gbtree boosters are compiled, not {booster.get('name')}")
    tables = TreeTables(n_features=n_features, base_margin=base_margin_of(model_json))
    for tree in booster["model"]["trees"]:
        if any(int(t) != 0 for t in tree.get("split_type", [])):
            raise ConfigurationError("categorical splits are not supported by the native TreeSHAP")
        offset = len(tables.left)
        lefts, rights = tree["left_children"], tree["right_children"]
        cover = tree["sum_hessian"]
        means = [0.0] * len(lefts)
        depth = [0] * len(lefts)
        # Node ids are in breadth-first order with children after parents: a reverse pass fills means.
        for node in range(len(lefts)):
            for child in (lefts[node], rights[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        for node in reversed(range(len(lefts))):
            if lefts[node] < 0:
                means[node] = float(tree["split_conditions"][node])
            else:
                a, b = lefts[node], rights[node]
                means[node] = (means[a] * cover[a] + means[b] * cover[b]) / cover[node]
        tables.roots.append(offset)
        tables.expected.append(means[0])
        tables.max_depth = max(tables.max_depth, max(depth))
        for node in range(len(lefts)):
            is_leaf = lefts[node] < 0
            tables.left.append(-1 if is_leaf else lefts[node] + offset)
            tables.right.append(-1 if is_leaf else rights[node] + offset)
            tables.feature.append(0 if is_leaf else int(tree["split_indices"][node]))
            tables.threshold.append(0.0 if is_leaf else float(tree["split_conditions"][node]))
            tables.default_left.append(int(tree["default_left"][node]))
            tables.leaf_value.append(float(tree["split_conditions"][node]) if is_leaf else 0.0)
            tables.cover.append(float(cover[node]))
    return tables


def _c_array(ctype: str, name: str, values: list[Any], fmt: str) -> str:
    body = ",".join(fmt % v for v in values)
    return f"const {ctype} {name}[{max(len(values), 1)}] = {{{body}}};\n"


def render_tree_sources(tables: TreeTables) -> tuple[str, str]:
    """(tg_trees.h, tg_trees.c) for training/native/tg_native.c."""
    header = (
        "/* Generated by training/compile.py from the XGBoost model: do not edit. */\n"
        "#ifndef TG_TREES_H\n#define TG_TREES_H\n#include <stdint.h>\n"
        f"#define TG_NUM_FEATURE {tables.n_features}\n"
        f"#define TG_NUM_TREES {len(tables.roots)}\n"
        f"#define TG_MAX_DEPTH {tables.max_depth}\n"
        f"#define TG_BASE_MARGIN ({tables.base_margin!r})\n"
        "extern const int32_t TG_TREE_ROOT[];\nextern const double TG_TREE_EXPECTED[];\n"
        "extern const int32_t TG_LEFT[];\nextern const int32_t TG_RIGHT[];\n"
        "extern const int32_t TG_SPLIT_FEATURE[];\nextern const float TG_THRESHOLD[];\n"
        "extern const int32_t TG_DEFAULT_LEFT[];\nextern const float TG_LEAF_VALUE[];\n"
        "extern const double TG_COVER[];\n#endif\n"
    )
    source = "/* Generated by training/compile.py from the XGBoost model: do not edit. */\n"
    source += '#include "tg_trees.h"\n'
    source += _c_array("int32_t", "TG_TREE_ROOT", tables.roots, "%d")
    source += _c_array("double", "TG_TREE_EXPECTED", tables.expected, "%.17g")
    source += _c_array("int32_t", "TG_LEFT", tables.left, "%d")
    source += _c_array("int32_t", "TG_RIGHT", tables.right, "%d")
    source += _c_array("int32_t", "TG_SPLIT_FEATURE", tables.feature, "%d")
    source += _c_array("float", "TG_THRESHOLD", tables.threshold, "%.9g")
    source += _c_array("int32_t", "TG_DEFAULT_LEFT", tables.default_left, "%d")
    source += _c_array("float", "TG_LEAF_VALUE", tables.leaf_value, "%.9g")
    source += _c_array("double", "TG_COVER", tables.cover, "%.17g")
    return header, source


def generate_sources(booster: Any, workdir: Path) -> Path:
    """Write tl2cgen's header.h/main.c, the tree tables and our native code into workdir/src."""
    import tl2cgen
    import treelite

    src = workdir / "src"
    if src.exists():
        shutil.rmtree(src)
    model = treelite.frontend.from_xgboost(booster)
    tl2cgen.generate_c_code(model, dirpath=str(src), params={"quantize": 0}, verbose=False)
    header, source = render_tree_sources(tree_tables(json.loads(booster.save_raw("json"))))
    (src / "tg_trees.h").write_text(header, encoding="utf-8")
    (src / "tg_trees.c").write_text(source, encoding="utf-8")
    shutil.copy(NATIVE_DIR / "tg_native.c", src / "tg_native.c")
    return src


def host_architecture() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def compiler_for(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise ConfigurationError(f"unknown architecture {architecture!r}; use one of {ARCHITECTURES}")
    candidates = ["gcc"] if architecture == host_architecture() else []
    candidates.append(f"{architecture}-linux-gnu-gcc")
    for name in candidates:
        if shutil.which(name):
            return name
    raise ConfigurationError(
        f"no C compiler for {architecture} ({' or '.join(candidates)}): {TOOLCHAIN_HINT}"
    )


def _run(command: list[str], what: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigurationError(
            f"{what} failed ({' '.join(command[:2])} ...): {result.stderr.strip()[-2000:]}"
        )
    return result.stdout


def compile_library(src: Path, architecture: str, out: Path) -> Path:
    sources = [str(src / name) for name in ("main.c", "tg_trees.c", "tg_native.c")]
    sources += [str(p) for p in sorted(src.glob("tu*.c"))]
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [compiler_for(architecture), *CFLAGS, f"-I{src}", "-o", str(out), *sources, *LDFLAGS],
        f"compiling the {architecture} model library",
    )
    return out


GLIBC_PATTERN = re.compile(r"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?")
_VERSION = re.compile(r"\d+(?:\.\d+)*")


def glibc_version(version: str | tuple[int, ...]) -> tuple[int, ...]:
    """The version as numbers, "2.34" -> (2, 34), so that versions compare part by part: "2.4" is
    older than "2.34", though it sorts after it as a string."""
    if isinstance(version, tuple):
        return version
    text = version.strip().removeprefix("GLIBC_")
    if not _VERSION.fullmatch(text):
        raise ValueError(f"not a glibc version: {version!r}")
    return tuple(int(part) for part in text.split("."))


def glibc_allowed(version: str | tuple[int, ...], limit: tuple[int, ...] = MAX_GLIBC) -> bool:
    """True when a library needing this glibc loads on Lambda (at most `limit`, 2.34)."""
    return glibc_version(version) <= limit


def glibc_requirement(library: Path) -> tuple[int, ...]:
    """The highest GLIBC_x.y symbol version the library needs (readelf reads any architecture's ELF)."""
    readelf = shutil.which("readelf") or shutil.which("aarch64-linux-gnu-readelf")
    if readelf is None:
        raise ConfigurationError(f"readelf not found (binutils): {TOOLCHAIN_HINT}")
    listing = _run([readelf, "-W", "--dyn-syms", "--version-info", str(library)], "readelf")
    versions = {tuple(int(p) for p in m.groups() if p is not None) for m in GLIBC_PATTERN.finditer(listing)}
    return max(versions) if versions else (0,)


def compile_model(
    booster: Any, out_dir: Path, architectures: tuple[str, ...] = ARCHITECTURES
) -> dict[str, Any]:
    """Compile the booster for each architecture into out_dir; returns {arch: {file, glibc}}."""
    built: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tg-compile-") as tmp:
        src = generate_sources(booster, Path(tmp))
        for architecture in architectures:
            library = compile_library(src, architecture, out_dir / library_name(architecture))
            needed = glibc_requirement(library)
            if not glibc_allowed(needed):
                raise ConfigurationError(
                    f"{library.name} needs GLIBC {'.'.join(map(str, needed))}, newer than Lambda's 2.34"
                )
            built[architecture] = {"file": library.name, "max_glibc": ".".join(map(str, needed))}
    return built


# ---------------------------------------------------------------------- harness (cross-arch check)
def build_harness(library: Path, architecture: str, out: Path) -> Path:
    """A tiny C program, linked to the library, printing probability and contributions per input line."""
    _run(
        [
            compiler_for(architecture),
            "-O2",
            "-std=gnu99",
            "-o",
            str(out),
            str(NATIVE_DIR / "tg_harness.c"),
            str(library),
            f"-Wl,-rpath,{library.parent.resolve()}",
            "-lm",
        ],
        f"compiling the {architecture} harness",
    )
    return out


def run_harness(harness: Path, architecture: str, rows: list[list[float | None]]) -> list[list[float]]:
    """Runs the harness (under qemu-user for a foreign architecture); each output row = [p, phi..., bias]."""
    command = [str(harness)]
    if architecture != host_architecture():
        qemu = shutil.which(f"qemu-{architecture}") or shutil.which(f"qemu-{architecture}-static")
        if qemu is None:
            raise ConfigurationError(f"qemu-{architecture} not found: {TOOLCHAIN_HINT}")
        command = [qemu, "-L", QEMU_SYSROOT if architecture == "aarch64" else "/", *command]
    text = "\n".join(" ".join("nan" if v is None else repr(float(v)) for v in row) for row in rows) + "\n"
    result = subprocess.run(command, input=text, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigurationError(f"harness failed on {architecture}: {result.stderr.strip()[-1000:]}")
    return [[float(v) for v in line.split()] for line in result.stdout.splitlines() if line.strip()]
