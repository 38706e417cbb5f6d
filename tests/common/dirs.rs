//! Directories a test works in: a fresh temp dir of its own, and the shared reference material.

use std::path::{Path, PathBuf};

/// A fresh temp dir for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("minirmq-test-")
        .tempdir()
        .expect("create temp dir")
}

/// Where the shared reference material lives: `../shared` or `../../shared` from the package.
pub fn shared_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("../shared"), root.join("../../shared")]
        .into_iter()
        .find(|p| p.is_dir())
}
