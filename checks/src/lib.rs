//! Checks that span every sample (run by `scripts/test`): the bad-input matrix
//! (`tests/bad_input.rs`) and copy-out builds of `scripts/eject` (`tests/eject.rs`).
//! This crate holds what those tests share; it is not a sample and nothing ships it.

use std::path::PathBuf;

/// The workspace's top folder (this crate lives in `checks/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
