#!/usr/bin/env -S node --no-warnings
// Runs a wasm32-wasip1 test binary under Node's WASI, so the core's unit tests run on the
// target the plugin ships for. Cargo uses it as the target runner (see .cargo/config.toml).
// The workspace root is preopened at its own path, so tests read fixtures as they do natively.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, env } from "node:process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const [wasmPath, ...args] = argv.slice(2);
const preopens = { [root]: root, "/tmp": "/tmp" };
const wasi = new WASI({ version: "preview1", args: [wasmPath, ...args], env, preopens, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
