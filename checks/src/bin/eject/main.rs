//! `scripts/eject SAMPLE DIR`: copies one sample out of this workspace into a standalone Cargo
//! project at DIR, so that it builds and runs without the rest of the repository:
//!
//! - the sample's own files (`src/`, `build.rs`, `proto/`, …; not its tests, which need the
//!   local stack of this repository),
//! - `common/`: the workspace's `common` crate cut down to the modules the sample uses, as a path
//!   crate, so that every `use common::…` line stays as it is,
//! - `Cargo.toml` files with concrete versions (the ones the workspace's `Cargo.lock` holds) and
//!   features instead of workspace inheritance, and that lock file, pruned to what DIR uses,
//! - `.env.example` with only the variables the sample reads, `.gitignore`, and the README.

mod env_file;
mod manifest;
mod source;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::Parser;

/// Copy one sample out of astra-rust-samples into a standalone Cargo project.
///
/// DIR gets the sample's sources, the parts of `common` it uses (as the path crate `common/`),
/// Cargo.toml files with concrete versions, the workspace's Cargo.lock (pruned to what DIR
/// uses), a .env.example with only the sample's variables, a .gitignore and the README.
/// Then: `cd DIR && cp .env.example .env && cargo run`.
#[derive(Debug, Parser)]
#[command(name = "eject", bin_name = "scripts/eject")]
struct Args {
    /// The sample: its folder under samples/ (e.g. `cql`) or its package name (`sample-cql`).
    sample: String,
    /// Where to write the project. It must not exist yet, or be empty (see --force).
    dir: PathBuf,
    /// Write into DIR even when it is not empty: files of the same name are replaced, other files
    /// are left as they are.
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace this binary was built from (it lives in `checks/`).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn run(args: &Args) -> anyhow::Result<()> {
    let root = workspace_root();
    let name = sample_folder(&root, &args.sample)?;
    let sample_dir = root.join("samples").join(&name);
    let out = &args.dir;
    check_target(out, args.force)?;

    // What cargo knows about the workspace: every member's dependencies with their features
    // (inheritance already applied) and the exact version the lock file resolves each one to.
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .exec()
        .context("cargo metadata on the workspace failed")?;
    let root_manifest = read(&root.join("Cargo.toml"))?
        .parse::<toml_edit::DocumentMut>()
        .context("the workspace's Cargo.toml does not parse")?;
    let sample_pkg = manifest::package_at(&metadata, &sample_dir.join("Cargo.toml"))?;
    let common_dir = root.join("common");
    let common_pkg = manifest::package_at(&metadata, &common_dir.join("Cargo.toml"))?;

    // The sample's sources, and the parts of `common` they reach.
    let sample_sources = source::rust_files(&sample_dir, &["tests", "target", "benches", "examples"])?;
    let sample_text = sample_sources
        .iter()
        .map(|p| read(p))
        .collect::<anyhow::Result<Vec<_>>>()?
        .join("\n");
    let uses_common = sample_pkg
        .dependencies
        .iter()
        .any(|d| d.path.as_ref().is_some_and(|p| p.as_std_path() == common_dir));
    let common = if uses_common {
        Some(source::CommonCrate::read(&common_dir.join("src"))?.cut_for(&sample_text))
    } else {
        None
    };

    // 1. The sample's own files, without its tests (they drive the workspace's local stack).
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    copy_tree(&sample_dir, out, &|rel: &Path| {
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        !matches!(
            first.as_deref(),
            Some("tests" | "target" | "benches" | "Cargo.toml" | "Cargo.lock" | "README.md" | ".env")
        )
    })?;

    // 2. Cargo.toml files with concrete versions, then `common/` cut to what the sample uses.
    let versions = manifest::Versions::of(&metadata, &sample_pkg)?;
    let sample_manifest = manifest::rewrite(
        &read(&sample_dir.join("Cargo.toml"))?,
        &manifest::Context {
            root: &root_manifest,
            package: &sample_pkg,
            versions: &versions,
            common_dir: &common_dir,
            keep_dependency: &|_, _| true,
            standalone_workspace: true,
        },
    )
    .with_context(|| format!("cannot rewrite samples/{name}/Cargo.toml"))?;
    write(&out.join("Cargo.toml"), &sample_manifest)?;

    if let Some(common) = &common {
        let common_versions = manifest::Versions::of(&metadata, &common_pkg)?;
        let used = common.crates_used();
        let common_manifest = manifest::rewrite(
            &read(&common_dir.join("Cargo.toml"))?,
            &manifest::Context {
                root: &root_manifest,
                package: &common_pkg,
                versions: &common_versions,
                common_dir: &common_dir,
                keep_dependency: &|dep, _kind| used.contains(&dep.replace('-', "_")),
                standalone_workspace: false,
            },
        )
        .context("cannot rewrite common/Cargo.toml")?;
        write(&out.join("common/Cargo.toml"), &common_manifest)?;
        common.write_to(&out.join("common/src"))?;
    }

    // 3. Settings: only the variables this sample (and the parts of common it calls) read.
    let env_example = env_file::for_sample(
        &format!("sample-{name}"),
        &read(&root.join(".env.example"))?,
        &source::variables_read(&sample_text, common.as_ref()),
    );
    write(&out.join(".env.example"), &env_example)?;
    write(&out.join(".gitignore"), "/target/\n.env\n")?;
    write(&out.join("README.md"), &readme(&name, &sample_dir)?)?;

    // 4. The workspace's lock file, pruned by cargo to the packages DIR uses: every version stays
    //    the one the workspace resolved (cargo keeps a locked version while it still fits).
    fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock")).context("cannot copy Cargo.lock")?;
    prune_lock(out)?;

    let kept: Vec<_> = common.iter().flat_map(|c| c.modules().iter().cloned()).collect();
    println!("Ejected samples/{name} to {}", out.display());
    if !kept.is_empty() {
        println!("  common/ keeps the modules {}", kept.join(", "));
    }
    println!("Next: cd {} && cp .env.example .env && cargo run", out.display());
    Ok(())
}

/// `cql`, `sample-cql` or `samples/cql` → `cql`, when `samples/cql/Cargo.toml` exists.
fn sample_folder(root: &Path, given: &str) -> anyhow::Result<String> {
    let available = available_samples(root)?;
    let trimmed = given.trim_end_matches('/');
    let name = trimmed.strip_prefix("samples/").unwrap_or(trimmed);
    let name = name.strip_prefix("sample-").unwrap_or(name);
    if available.contains(name) {
        return Ok(name.to_owned());
    }
    let list: Vec<&str> = available.iter().map(String::as_str).collect();
    bail!("unknown sample {given:?}: choose one of {}", list.join(", "))
}

/// The folders under `samples/` that hold a crate.
fn available_samples(root: &Path) -> anyhow::Result<BTreeSet<String>> {
    let dir = root.join("samples");
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// DIR must not be a file, and must be empty unless `force`.
fn check_target(dir: &Path, force: bool) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{} exists and is not a folder: choose another DIR", dir.display());
    }
    let mut entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    if entries.next().is_some() && !force {
        bail!(
            "{} is not empty: choose a new folder, or pass --force to write into it",
            dir.display()
        );
    }
    Ok(())
}

/// Copies the files under `from` whose path (relative to `from`) `keep` accepts.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> anyhow::Result<()> {
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            if !keep(&rel) {
                continue;
            }
            if entry.file_type()?.is_dir() {
                fs::create_dir_all(to.join(&rel))?;
                stack.push(rel);
            } else {
                fs::copy(entry.path(), to.join(&rel))
                    .with_context(|| format!("cannot copy {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

/// The sample's README with a short note on where the project came from.
fn readme(name: &str, sample_dir: &Path) -> anyhow::Result<String> {
    let original = fs::read_to_string(sample_dir.join("README.md")).unwrap_or_default();
    let note = format!(
        "> Copied out of the astra-rust-samples workspace (`samples/{name}`) by `scripts/eject`: a\n\
         > standalone project. `cp .env.example .env`, fill it in, then `cargo run` (or `cargo run -p\n\
         > sample-{name}`). `common/` holds the parts of the workspace's `common` crate this sample uses.\n\
         > Links below that start with `../` and the `scripts/` commands refer to that workspace.\n\n"
    );
    Ok(note + &original)
}

/// Lets cargo rewrite DIR/Cargo.lock for DIR's packages only. `cargo metadata` resolves against
/// the copied lock and drops the packages DIR does not use, keeping every other version as it
/// was; offline first (everything is in the local registry cache after a workspace build).
fn prune_lock(dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = dir.join("Cargo.toml");
    let mut last_error = String::new();
    for offline in [true, false] {
        let mut cmd = Command::new(&cargo);
        cmd.args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(&manifest);
        if offline {
            cmd.arg("--offline");
        }
        let output = cmd.output().context("cannot run cargo")?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        last_error = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or_else(|| stderr.lines().last().unwrap_or("no output"))
            .to_owned();
    }
    bail!("cargo cannot resolve the ejected project ({last_error})")
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
