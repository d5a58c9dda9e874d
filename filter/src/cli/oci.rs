//! `pci-guard oci`: packages `pci_guard.wasm` as an OCI image layout (a directory and its `.tar`)
//! that Istio's `WasmPlugin` pulls with `url: oci://…`, without Docker.
//!
//! Format: the *compat* variant of the Wasm image specification (solo-io/wasm
//! `spec-compat.md`), which Istio's image fetcher tries first: one
//! `application/vnd.oci.image.layer.v1.tar+gzip` layer holding `plugin.wasm`, a standard OCI
//! image config, and the manifest annotation `module.wasm.image/variant: compat`. Why not the
//! *oci* variant (`application/vnd.module.wasm.content.layer.v1+wasm`): Istio's fetcher only
//! accepts that one with exactly two layers, and registries and tools (`crane`, `skopeo`)
//! treat the standard media types as ordinary images.
//!
//! Deterministic: the same module gives the same bytes and digests (tar entries sorted, mtime
//! 0, uid/gid 0, no user names; gzip with mtime 0), so the image digest can be recomputed from
//! the module alone. Istio checks a `WasmPlugin`'s `sha256` against the image *manifest*
//! digest for `oci://` URLs (and against the module's own hash for `https://`): both are
//! printed.
//!
//! With `--manifests DIR`, the `*.yaml` files there are rendered into `--manifests-out` with
//! `{{IMAGE}}` and `{{IMAGE_SHA256}}` filled, so shipped manifests always name this image.

use clap::Args;
use flate2::{Compression, GzBuilder};
use pci_guard_core::digest;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The file name Istio looks for inside a compat layer.
pub const MODULE_FILE: &str = "plugin.wasm";

#[derive(Args)]
pub struct OciArgs {
    /// The module to package.
    #[arg(long, default_value = "target/wasm32-wasip1/release/pci_guard.wasm")]
    wasm: PathBuf,
    /// The layout directory to write; `<out>.tar` is written beside it.
    #[arg(long, default_value = "target/oci/pci-guard")]
    out: PathBuf,
    /// Tag recorded in the layout's index (`org.opencontainers.image.ref.name`).
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    tag: String,
    /// Kubernetes manifests with `{{IMAGE}}` / `{{IMAGE_SHA256}}` to render (e.g. envoy/istio).
    #[arg(long, requires = "manifests_out")]
    manifests: Option<PathBuf>,
    /// Where the rendered manifests go.
    #[arg(long, requires = "manifests")]
    manifests_out: Option<PathBuf>,
    /// The image the manifests pull, without `oci://`: `registry/repo[:tag]` (default tag:
    /// `--tag`).
    #[arg(long, default_value = "registry.example.com/platform/pci-guard")]
    image: String,
}

/// An image in memory: every blob by digest, plus the two names a layout needs.
pub struct Image {
    /// `sha256:<hex>` → bytes (config, layer, manifest).
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub manifest_digest: String,
    pub manifest_size: usize,
    pub module_digest: String,
}

fn digest(bytes: &[u8]) -> String {
    digest::sha256(bytes)
}

/// A ustar header with every field that could vary between machines fixed.
fn header(path: &str, size: u64, dir: bool) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    Ok(h)
}

/// Builds the image for `module` (deterministic).
pub fn build(module: &[u8], version: &str) -> std::io::Result<Image> {
    // The layer: a tar holding plugin.wasm, gzipped.
    let mut t = tar::Builder::new(Vec::new());
    t.append(&header(MODULE_FILE, module.len() as u64, false)?, module)?;
    let layer_tar = t.into_inner()?;
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    gz.write_all(&layer_tar)?;
    let layer = gz.finish()?;

    let config = serde_json::to_vec(&json!({
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest(&layer_tar)]},
    }))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": digest(&layer), "size": layer.len()}],
        "annotations": {
            "module.wasm.image/variant": "compat",
            "org.opencontainers.image.title": "pci-guard",
            "org.opencontainers.image.version": version,
        },
    }))?;
    let manifest_digest = digest(&manifest);
    let manifest_size = manifest.len();
    let mut blobs = BTreeMap::new();
    blobs.insert(digest(&config), config);
    blobs.insert(digest(&layer), layer);
    blobs.insert(manifest_digest.clone(), manifest);
    Ok(Image {
        blobs,
        manifest_digest,
        manifest_size,
        module_digest: digest(module),
    })
}

impl Image {
    /// The layout's files, by path relative to the layout root, in sorted order.
    pub fn files(&self, tag: &str) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
        let mut files = BTreeMap::new();
        files.insert(
            "oci-layout".to_string(),
            serde_json::to_vec(&json!({"imageLayoutVersion": "1.0.0"}))?,
        );
        files.insert(
            "index.json".to_string(),
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": INDEX_MEDIA_TYPE,
                "manifests": [{
                    "mediaType": MANIFEST_MEDIA_TYPE,
                    "digest": self.manifest_digest,
                    "size": self.manifest_size,
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                }],
            }))?,
        );
        for (d, bytes) in &self.blobs {
            let hex = d.trim_start_matches("sha256:");
            files.insert(format!("blobs/sha256/{hex}"), bytes.clone());
        }
        Ok(files)
    }
}

/// The layout as one tar (what `skopeo copy oci-archive:` and `oras` read), deterministic.
pub fn layout_tar(files: &BTreeMap<String, Vec<u8>>) -> std::io::Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    for dir in ["blobs/", "blobs/sha256/"] {
        t.append(&header(dir, 0, true)?, std::io::empty())?;
    }
    for (path, bytes) in files {
        t.append(&header(path, bytes.len() as u64, false)?, bytes.as_slice())?;
    }
    t.into_inner()
}

fn write_layout(out: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    if out.exists() {
        // Only ever replace an earlier layout, never some other directory given by mistake.
        let is_layout = out.join("oci-layout").exists();
        let empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_layout && !empty {
            return Err(format!(
                "{} exists and is not an OCI layout: not overwriting it",
                out.display()
            ));
        }
        std::fs::remove_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    for (path, bytes) in files {
        let p = out.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Fills `{{IMAGE}}` and `{{IMAGE_SHA256}}` in every `*.yaml` of `from`, into `to`.
/// Returns the rendered files.
pub fn render_manifests(
    from: &Path,
    to: &Path,
    image: &str,
    image_sha256: &str,
) -> Result<Vec<PathBuf>, String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(from)
        .map_err(|e| format!("{}: {e}", from.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut written = Vec::new();
    for p in names {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let out = text
            .replace("{{IMAGE}}", image)
            .replace("{{IMAGE_SHA256}}", image_sha256);
        if let Some(i) = out.find("{{") {
            let end = out[i..].find("}}").map_or(out.len(), |e| i + e + 2);
            return Err(format!(
                "{}: unknown placeholder {}",
                p.display(),
                &out[i..end]
            ));
        }
        let dest = to.join(p.file_name().unwrap_or_default());
        std::fs::write(&dest, out).map_err(|e| format!("{}: {e}", dest.display()))?;
        written.push(dest);
    }
    Ok(written)
}

/// `registry/repo` gets `:tag`; a reference that has a tag (or digest) already is kept.
fn image_reference(image: &str, tag: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:{tag}")
    }
}

pub fn run(a: OciArgs) -> ExitCode {
    match run_inner(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pci-guard oci: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_inner(a: &OciArgs) -> Result<(), String> {
    let module = std::fs::read(&a.wasm).map_err(|e| {
        format!(
            "cannot read {}: {e} (build it with `make wasm`)",
            a.wasm.display()
        )
    })?;
    if !module.starts_with(b"\0asm") {
        return Err(format!("{} is not a wasm module", a.wasm.display()));
    }
    let image = build(&module, &a.tag).map_err(|e| e.to_string())?;
    let files = image.files(&a.tag).map_err(|e| e.to_string())?;
    write_layout(&a.out, &files)?;
    let mut tar_path = a.out.clone().into_os_string();
    tar_path.push(".tar");
    let tar_path = PathBuf::from(tar_path);
    let tar = layout_tar(&files).map_err(|e| e.to_string())?;
    std::fs::write(&tar_path, tar).map_err(|e| format!("{}: {e}", tar_path.display()))?;

    let image_hex = image.manifest_digest.trim_start_matches("sha256:");
    println!("image: {}", image.manifest_digest);
    println!("module: {} ({} bytes)", image.module_digest, module.len());
    println!("layout: {} (tag {})", a.out.display(), a.tag);
    println!("archive: {}", tar_path.display());
    let reference = image_reference(&a.image, &a.tag);
    println!("wasmplugin: url: oci://{reference}");
    println!("wasmplugin: sha256: {image_hex}");
    if let (Some(from), Some(to)) = (&a.manifests, &a.manifests_out) {
        for f in render_manifests(from, to, &reference, image_hex)? {
            println!("manifest: {}", f.display());
        }
    }
    Ok(())
}
