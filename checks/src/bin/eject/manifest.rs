//! Rewrites a member's Cargo.toml for a standalone project: inherited `[package]` fields and
//! `[lints]` become concrete, every dependency gets the exact version the workspace's lock file
//! resolved and its full feature list, `common` becomes the path crate `common/`, and
//! dev-dependencies and test targets go (the tests stay in the workspace). Comments are kept.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use cargo_metadata::{DependencyKind, Metadata, Package, semver::Version};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

/// The workspace member whose manifest is `manifest`.
pub fn package_at(metadata: &Metadata, manifest: &Path) -> anyhow::Result<Package> {
    metadata
        .workspace_packages()
        .into_iter()
        .find(|p| p.manifest_path.as_std_path() == manifest)
        .cloned()
        .with_context(|| format!("{} is not a member of the workspace", manifest.display()))
}

/// The version the lock file resolved for each dependency of one package, by package name and
/// kind (a build dependency may resolve to another version than a normal one of the same name).
pub struct Versions(HashMap<(String, DependencyKind), Version>);

impl Versions {
    pub fn of(metadata: &Metadata, package: &Package) -> anyhow::Result<Self> {
        let resolve = metadata
            .resolve
            .as_ref()
            .context("cargo metadata gave no dependency graph")?;
        let node = resolve
            .nodes
            .iter()
            .find(|n| n.id == package.id)
            .with_context(|| format!("{} is not in the dependency graph", package.name))?;
        let mut versions = HashMap::new();
        for dep in &node.deps {
            let resolved = &metadata[&dep.pkg];
            for kind in &dep.dep_kinds {
                versions.insert((resolved.name.to_string(), kind.kind), resolved.version.clone());
            }
        }
        Ok(Self(versions))
    }

    fn get(&self, name: &str, kind: DependencyKind) -> Option<&Version> {
        self.0.get(&(name.to_owned(), kind))
    }
}

pub struct Context<'a> {
    /// The workspace's own Cargo.toml: `[workspace.package]` and `[workspace.lints]`.
    pub root: &'a DocumentMut,
    pub package: &'a Package,
    pub versions: &'a Versions,
    /// The workspace's `common` crate: a path dependency on it becomes `common/`.
    pub common_dir: &'a Path,
    /// Whether to keep a dependency (package name, kind); the others are removed.
    pub keep_dependency: &'a dyn Fn(&str, DependencyKind) -> bool,
    /// Adds an empty `[workspace]`: DIR is a workspace of its own (with `common/` in it), even when
    /// it sits inside another one.
    pub standalone_workspace: bool,
}

/// The manifest `original` of `cx.package`, rewritten for the ejected project.
pub fn rewrite(original: &str, cx: &Context<'_>) -> anyhow::Result<String> {
    let mut doc: DocumentMut = original.parse().context("Cargo.toml does not parse")?;

    // [package]: `edition.workspace = true` → `edition = "2024"`, and so on.
    let package = doc
        .get_mut("package")
        .and_then(Item::as_table_mut)
        .context("no [package] table")?;
    for (key, item) in package.iter_mut() {
        if inherits(item) {
            let value = cx
                .root
                .get("workspace")
                .and_then(|w| w.get("package"))
                .and_then(|p| p.get(key.get()))
                .and_then(Item::as_value)
                .with_context(|| format!("package.{} is inherited but [workspace.package] has none", key.get()))?;
            *item = Item::Value(value.clone().decorated(" ", ""));
        }
    }

    // Dependencies, also target-specific ones; dev-dependencies go with the tests.
    rewrite_dependency_tables(doc.as_table_mut(), cx)?;
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(target) = target.as_table_mut() {
                rewrite_dependency_tables(target, cx)?;
            }
        }
    }
    for key in ["test", "bench"] {
        doc.remove(key);
    }

    // [lints] workspace = true → the workspace's lint tables, written out.
    if doc.get("lints").is_some_and(inherits) {
        let lints = cx
            .root
            .get("workspace")
            .and_then(|w| w.get("lints"))
            .and_then(Item::as_table)
            .context("lints are inherited but the workspace has no [workspace.lints]")?;
        let mut table = Table::new();
        table.set_implicit(true);
        for (key, item) in lints.iter() {
            let mut sub = item.as_table().cloned().unwrap_or_default();
            sub.set_position(None);
            sub.decor_mut().clear();
            table.insert(key, Item::Table(sub));
        }
        doc.insert("lints", Item::Table(table));
    }

    if cx.standalone_workspace {
        // Profiles and patches of the workspace apply to its members; carry them along.
        for key in ["profile", "patch"] {
            if let Some(item) = cx.root.get(key) {
                doc.insert(key, item.clone());
            }
        }
        let mut workspace = Table::new();
        workspace
            .decor_mut()
            .set_prefix("\n# A workspace of its own (with the path crate common/ in it), even inside another one.\n");
        doc.insert("workspace", Item::Table(workspace));
    }
    Ok(doc.to_string())
}

/// `x.workspace = true` or `x = { workspace = true, … }`.
fn inherits(item: &Item) -> bool {
    item.get("workspace").and_then(Item::as_bool) == Some(true)
}

fn rewrite_dependency_tables(table: &mut Table, cx: &Context<'_>) -> anyhow::Result<()> {
    for (key, kind) in [
        ("dependencies", DependencyKind::Normal),
        ("build-dependencies", DependencyKind::Build),
    ] {
        if let Some(deps) = table.get_mut(key).and_then(Item::as_table_like_mut) {
            let dropped: Vec<String> = deps
                .iter()
                .filter(|(name, item)| {
                    let package = item.get("package").and_then(Item::as_str).unwrap_or(name);
                    !(cx.keep_dependency)(package, kind)
                })
                .map(|(name, _)| name.to_owned())
                .collect();
            for name in dropped {
                deps.remove(&name);
            }
            for (name, item) in deps.iter_mut() {
                let mut value = dependency(name.get(), item, kind, cx)?;
                let decor = item.as_value().map(|v| v.decor().clone());
                match decor {
                    Some(decor) => *value.decor_mut() = decor,
                    None => *value.decor_mut() = toml_edit::Decor::new(" ", ""),
                }
                *item = Item::Value(value);
            }
        }
    }
    table.remove("dev-dependencies");
    Ok(())
}

/// One dependency, written out in full: `"1.2.3"`, or `{ version = "1.2.3", default-features = false,
/// features = [..] }`.
fn dependency(key: &str, item: &Item, kind: DependencyKind, cx: &Context<'_>) -> anyhow::Result<Value> {
    let package = item.get("package").and_then(Item::as_str).unwrap_or(key);
    let dep = cx
        .package
        .dependencies
        .iter()
        .find(|d| d.name == package && d.kind == kind && d.rename.as_deref().unwrap_or(&d.name) == key)
        .with_context(|| format!("cargo metadata does not list the dependency {key}"))?;
    let mut out = InlineTable::new();
    if let Some(path) = &dep.path {
        if path.as_std_path() != cx.common_dir {
            bail!("{key} is a path dependency on {path}: only `common` can be ejected with a sample");
        }
        out.insert("path", "common".into());
        return Ok(Value::InlineTable(out));
    }
    let version = cx
        .versions
        .get(package, kind)
        .with_context(|| format!("the lock file has no version of {package}"))?;
    // Build metadata (`+spec-1.1.0`) means nothing in a requirement; cargo warns about it.
    let version = Version {
        build: cargo_metadata::semver::BuildMetadata::EMPTY,
        ..version.clone()
    };
    out.insert("version", version.to_string().into());
    if dep.rename.is_some() {
        out.insert("package", package.into());
    }
    if !dep.uses_default_features {
        out.insert("default-features", false.into());
    }
    if !dep.features.is_empty() {
        let features: Array = dep.features.iter().map(String::as_str).collect();
        out.insert("features", features.into());
    }
    if dep.optional {
        out.insert("optional", true.into());
    }
    if out.len() == 1 {
        return Ok(version.to_string().into());
    }
    Ok(Value::InlineTable(out))
}
