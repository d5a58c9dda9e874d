#!/usr/bin/env -S node --no-warnings
// Runs a wasm32-wasip1 test binary under Node's WASI, so the core's unit tests run on the
// target the plugin ships for. Cargo's runner is wasi-runner.sh, which calls this with a file
// to record the module's exit code in (see there why). The workspace root is preopened at its
// own path, so tests read fixtures as they do natively.
import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, env } from "node:process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const [statusFile, wasmPath, ...args] = argv.slice(2);
const preopens = { [root]: root, "/tmp": "/tmp" };
const wasi = new WASI({ version: "preview1", args: [wasmPath, ...args], env, preopens, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(wasmPath));
// The module's verdict is recorded the moment it asks to exit, before Node unwinds the call
// (the crash wasi-runner.sh guards against happens after this point).
const imports = wasi.getImportObject();
const wasiExit = imports.wasi_snapshot_preview1.proc_exit;
imports.wasi_snapshot_preview1.proc_exit = (code) => {
  writeFileSync(statusFile, String(code));
  return wasiExit(code);
};
const instance = await WebAssembly.instantiate(module, imports);
const code = wasi.start(instance);
writeFileSync(statusFile, String(code));
process.exitCode = code;
