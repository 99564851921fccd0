//! Checks that span every sample (run by `scripts/test`): the bad-input matrix
//! (`tests/bad_input.rs`) and copy-out builds of `scripts/eject` (`tests/eject.rs`).
//! This crate holds what those tests share; it is not a sample and nothing ships it.

pub mod matrix;
pub mod run;

use std::path::PathBuf;

/// The workspace's top folder (this crate lives in `checks/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The samples of the workspace: the folder name (`cql`, `graphql-first`, …) of every member
/// under `samples/`, read from `cargo metadata`, so that a new sample is in every check that
/// spans the samples as soon as it is a member.
pub fn workspace_samples() -> Vec<String> {
    let root = workspace_root();
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .exec()
        .unwrap_or_else(|e| panic!("cargo metadata on {} failed: {e}", root.display()));
    let samples = root.join("samples");
    let mut names: Vec<String> = metadata
        .workspace_packages()
        .iter()
        .filter_map(|package| {
            let dir = package.manifest_path.parent()?.as_std_path();
            if dir.parent()? != samples {
                return None;
            }
            Some(dir.file_name()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}
