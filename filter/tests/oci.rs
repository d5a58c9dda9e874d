//! `pci-guard oci`: the OCI image layout Istio pulls. Checked from the outside, as a registry
//! client would: every digest matches its blob, the media types are the Wasm image spec's
//! compat variant, the layer holds exactly the module as `plugin.wasm`, the `.tar` holds the
//! same layout, and the output is byte-for-byte reproducible. Also: the Istio manifests
//! rendered from `envoy/istio/` carry the printed image digest.
//!
//! The module is the built plugin when there is one (`$PCI_GUARD_WASM`, else
//! `<target>/wasm32-wasip1/release/pci_guard.wasm`), else a small stand-in module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oci-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The built plugin, or a stand-in (a valid empty module plus a custom section).
fn module(dir: &Path) -> PathBuf {
    let built = std::env::var_os("PCI_GUARD_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("../wasm32-wasip1/release/pci_guard.wasm")
        });
    if built.exists() {
        return built;
    }
    eprintln!(
        "no built plugin at {}: using a stand-in module",
        built.display()
    );
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    let payload = b"\x04noteon purpose: a stand-in module for the layout test";
    m.push(0); // custom section
    m.push(payload.len() as u8);
    m.extend_from_slice(payload);
    let p = dir.join("stand-in.wasm");
    std::fs::write(&p, m).unwrap();
    p
}

struct Run {
    stdout: String,
    layout: PathBuf,
    tar: PathBuf,
}

fn oci(wasm: &Path, out: &Path, extra: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .arg("oci")
        .arg("--wasm")
        .arg(wasm)
        .arg("--out")
        .arg(out)
        .args(["--tag", "1.2.3"])
        .args(extra)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut tar = out.as_os_str().to_owned();
    tar.push(".tar");
    Run {
        stdout: String::from_utf8(o.stdout).unwrap(),
        layout: out.to_path_buf(),
        tar: PathBuf::from(tar),
    }
}

fn line<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} line in:\n{stdout}"))
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Reads a blob through its descriptor, checking size and digest.
fn blob(layout: &Path, desc: &Value) -> Vec<u8> {
    let digest = desc["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(sha(&bytes), hex, "blob {digest} does not hash to its name");
    assert_eq!(
        desc["size"].as_u64().unwrap(),
        bytes.len() as u64,
        "size of {digest}"
    );
    bytes
}

#[test]
fn layout_digests_match_blobs_and_the_layer_is_exactly_the_module() {
    let dir = scratch("layout");
    let wasm = module(&dir);
    let module_bytes = std::fs::read(&wasm).unwrap();
    let run = oci(&wasm, &dir.join("image"), &[]);

    assert_eq!(
        json(&run.layout.join("oci-layout")),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );
    let index = json(&run.layout.join("index.json"));
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1);
    assert_eq!(
        manifests[0]["annotations"]["org.opencontainers.image.ref.name"],
        "1.2.3"
    );
    assert_eq!(
        manifests[0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );

    let manifest: Value = serde_json::from_slice(&blob(&run.layout, &manifests[0])).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["annotations"]["module.wasm.image/variant"],
        "compat"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "a single layer");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );

    // The layer: gzip of a tar with exactly one regular file, plugin.wasm == the module.
    let layer = blob(&run.layout, &layers[0]);
    let mut layer_tar = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut layer_tar)
        .unwrap();
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(&layer_tar[..]);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().to_string();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        entries.push((name, e.header().entry_type().is_file(), content));
    }
    assert_eq!(entries.len(), 1, "exactly one file in the layer");
    assert_eq!(entries[0].0, "plugin.wasm");
    assert!(entries[0].1);
    assert!(
        entries[0].2 == module_bytes,
        "the layer's plugin.wasm is not the module"
    );

    // The config names the uncompressed layer (diff_id).
    let config: Value = serde_json::from_slice(&blob(&run.layout, &manifest["config"])).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha(&layer_tar))
    );

    // No stray blobs.
    let mut names: Vec<String> = std::fs::read_dir(run.layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    let mut expected = vec![
        manifests[0]["digest"].as_str().unwrap()[7..].to_string(),
        manifest["config"]["digest"].as_str().unwrap()[7..].to_string(),
        layers[0]["digest"].as_str().unwrap()[7..].to_string(),
    ];
    expected.sort();
    assert_eq!(names, expected);

    // What it prints.
    assert_eq!(
        line(&run.stdout, "image: "),
        manifests[0]["digest"].as_str().unwrap()
    );
    assert_eq!(
        line(&run.stdout, "module: "),
        format!(
            "sha256:{} ({} bytes)",
            sha(&module_bytes),
            module_bytes.len()
        )
    );
    assert_eq!(
        line(&run.stdout, "wasmplugin: sha256: "),
        &manifests[0]["digest"].as_str().unwrap()[7..]
    );

    // The .tar holds the same files as the directory.
    let mut in_tar = BTreeMap::new();
    let tar_bytes = std::fs::read(&run.tar).unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_dir() {
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().to_string();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        in_tar.insert(name, content);
    }
    assert_eq!(in_tar.len(), 5, "{:?}", in_tar.keys().collect::<Vec<_>>());
    for (name, content) in &in_tar {
        assert!(
            std::fs::read(run.layout.join(name)).unwrap() == *content,
            "{name} differs between the tar and the directory"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_image_is_reproducible() {
    let dir = scratch("repro");
    let wasm = module(&dir);
    let a = oci(&wasm, &dir.join("a"), &[]);
    let b = oci(&wasm, &dir.join("b"), &[]);
    assert_eq!(line(&a.stdout, "image: "), line(&b.stdout, "image: "));
    assert!(
        std::fs::read(&a.tar).unwrap() == std::fs::read(&b.tar).unwrap(),
        "the .tar files differ"
    );
    // Running again over an existing layout replaces it.
    let again = oci(&wasm, &dir.join("a"), &[]);
    assert_eq!(line(&again.stdout, "image: "), line(&a.stdout, "image: "));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn refuses_to_overwrite_a_directory_that_is_not_a_layout() {
    let dir = scratch("refuse");
    let wasm = module(&dir);
    let victim = dir.join("precious");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("notes.txt"), "keep me").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .arg("oci")
        .arg("--wasm")
        .arg(&wasm)
        .arg("--out")
        .arg(&victim)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an OCI layout"));
    assert_eq!(
        std::fs::read_to_string(victim.join("notes.txt")).unwrap(),
        "keep me"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rendered_istio_manifests_pull_this_image_by_its_digest() {
    let dir = scratch("render");
    let wasm = module(&dir);
    let out = dir.join("istio");
    let run = oci(
        &wasm,
        &dir.join("image"),
        &[
            "--manifests",
            "envoy/istio",
            "--manifests-out",
            out.to_str().unwrap(),
            "--image",
            "registry.test/team/pci-guard",
        ],
    );
    let image_hex = line(&run.stdout, "image: ")
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let mut plugins = 0;
    for f in std::fs::read_dir(root().join("envoy/istio")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let rendered = std::fs::read_to_string(out.join(f.file_name().unwrap())).unwrap();
        assert!(
            !rendered.contains("{{"),
            "{}: unrendered placeholder",
            f.display()
        );
        for d in serde_yaml_ng::Deserializer::from_str(&rendered) {
            let doc: Value = serde::Deserialize::deserialize(d).unwrap();
            if doc["kind"] != "WasmPlugin" {
                continue;
            }
            plugins += 1;
            assert_eq!(
                doc["spec"]["url"],
                "oci://registry.test/team/pci-guard:1.2.3"
            );
            assert_eq!(doc["spec"]["sha256"], image_hex.as_str(), "{}", f.display());
        }
    }
    assert!(plugins >= 2);
    // What gets applied passes the CI check with no warnings (pinned, fail-closed, AUTHN).
    let mut rendered: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    rendered.sort();
    let check = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .args(["policy", "check", "--strict"])
        .args(&rendered)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
