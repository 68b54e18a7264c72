// Compiles contracts/*.sol and contracts/test/*.sol with the solc-js pinned in package.json
// (node_modules/solc: the compiler is bundled in the package, nothing is downloaded) and writes one
// artifact per contract to contracts/build/<Name>.json: {"abi": [...], "bytecode": "0x...", "sourceHash": ...}.
// `sourceHash` is the SHA-256 of what the build was made from (each .sol source and this script, by
// path and content): shared/chain/artifacts.py recomputes it and refuses an artifact built from other
// sources, and the test fixture rebuilds such a build.
// Exits non-zero with the compiler's messages when a source does not compile.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const buildDir = join(here, "build");

let solc;
try {
  solc = require("solc");
} catch (err) {
  console.error(`compile.mjs: the npm package 'solc' is not installed (run 'npm ci'): ${err.message}`);
  process.exit(2);
}

function solidityFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".sol"))
    .map((entry) => join(dir, entry.name))
    .sort();
}

const files = [...solidityFiles(here), ...solidityFiles(join(here, "test"))];
if (files.length === 0) {
  console.error("compile.mjs: no .sol files under contracts/");
  process.exit(2);
}
const sources = Object.fromEntries(
  files.map((file) => [relative(root, file), { content: readFileSync(file, "utf8") }]),
);

// The inputs of the build, hashed as shared/chain/artifacts.py:source_hash does: for each file (the
// sources in the order above, then this script) its repository-relative path, a NUL, its bytes, a NUL.
function sourceHash() {
  const hash = createHash("sha256");
  for (const file of [...files, fileURLToPath(import.meta.url)]) {
    hash.update(relative(root, file), "utf8");
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return `sha256:${hash.digest("hex")}`;
}
const builtFrom = sourceHash();

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const diagnostics = output.errors ?? [];
const errors = diagnostics.filter((d) => d.severity === "error");
for (const warning of diagnostics.filter((d) => d.severity !== "error")) {
  console.warn(warning.formattedMessage.trim());
}
if (errors.length > 0) {
  console.error(`compile.mjs: solc ${solc.version()} failed with ${errors.length} error(s):`);
  for (const error of errors) console.error(error.formattedMessage.trim());
  process.exit(1);
}

mkdirSync(buildDir, { recursive: true });
const written = [];
for (const [source, contracts] of Object.entries(output.contracts ?? {})) {
  for (const [name, artifact] of Object.entries(contracts)) {
    const bytecode = artifact.evm?.bytecode?.object ?? "";
    if (bytecode.length === 0) continue; // interfaces and abstract contracts have nothing to deploy
    const target = join(buildDir, `${name}.json`);
    const body = JSON.stringify(
      { contractName: name, source, compiler: solc.version(), sourceHash: builtFrom, abi: artifact.abi, bytecode: `0x${bytecode}` },
      null,
      1,
    );
    // Write then rename, so a reader never sees half an artifact.
    const partial = `${target}.${process.pid}.tmp`;
    writeFileSync(partial, `${body}\n`);
    renameSync(partial, target);
    written.push(relative(root, target));
  }
}
console.log(`compile.mjs: solc ${solc.version()} -> ${written.join(", ")}`);
