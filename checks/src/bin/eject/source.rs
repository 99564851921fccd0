//! Reading Rust sources the simple way (they are rustfmt-formatted): which `common` modules a
//! sample names, which modules and crates those name in turn, and which settings variables the
//! code a sample reaches reads. Over-approximates rather than misses: a module or variable too
//! many is harmless, one too few breaks the build or leaves a setting out of `.env.example`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Every `.rs` file under `dir`, skipping the top-level folders in `skip`.
pub fn rust_files(dir: &Path, skip: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).with_context(|| format!("cannot list {}", current.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                let top = current == dir;
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                if !(top && name.is_some_and(|n| skip.contains(&n.as_str()))) {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifiers in `text`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_ident_char(c)).filter(|w| !w.is_empty())
}

/// The identifiers of every path that starts with `prefix` (e.g. `common::`), with everything
/// inside `{…}` groups: `use common::{Token, http::{self, HttpError}};` gives Token, http, self,
/// HttpError; `common::settings::required(…)` gives settings, required.
pub fn path_words(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(prefix).map(|i| i + from) {
        from = at + prefix.len();
        if text[..at].chars().next_back().is_some_and(is_ident_char) {
            continue;
        }
        let rest = &text[from..];
        let mut depth = 0usize;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                c if is_ident_char(c) || c == ':' => {}
                c if depth > 0 && (c == ',' || c == '*' || c.is_whitespace()) => {}
                _ => break,
            }
            end = i + c.len_utf8();
        }
        found.extend(words(&rest[..end]).map(str::to_owned));
    }
    found
}

/// `text` without comment lines (`//`, `///`, `//!`): prose mentions no code.
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without its `#[cfg(test)]` modules (rustfmt puts them at column 0, closed by `}` there).
pub fn without_tests(text: &str) -> String {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "#[cfg(test)]" && lines.peek().is_some_and(|next| next.starts_with("mod ")) {
            for inner in lines.by_ref() {
                if inner == "}" {
                    break;
                }
            }
            while out.last().is_some_and(|l: &&str| l.is_empty()) {
                out.pop();
            }
            continue;
        }
        out.push(line);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// A top-level item of a module: a function, type, impl block, constant… with its text.
struct Item {
    name: String,
    text: String,
    /// `const X: Var = Var { … }`: a settings variable (a leaf: its help text names others).
    variable: Option<String>,
}

/// Splits rustfmt-formatted code into its top-level items: an item ends with a line at column 0
/// that is `}` or `};`, or ends with `;`.
fn items(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in code_only(text).lines() {
        if line.is_empty() && current.is_empty() {
            continue;
        }
        current.push(line);
        let at_column_0 = !line.starts_with(char::is_whitespace);
        if at_column_0 && (line == "}" || line == "};" || line.ends_with(';')) {
            let text = current.join("\n");
            current.clear();
            if let Some(name) = item_name(&text) {
                let variable = var_name(&text);
                items.push(Item { name, text, variable });
            }
        }
    }
    items
}

/// `fn x`, `struct X`, `const X`, `impl X`, `impl T for X`… → the name; `use` and `mod` → none.
fn item_name(text: &str) -> Option<String> {
    let head = text.lines().find(|l| !l.starts_with("#["))?;
    let head_words: Vec<&str> = words(head).collect();
    if head_words.first() == Some(&"impl") || head_words.get(1) == Some(&"impl") {
        let after = match head.find(" for ") {
            Some(i) => &head[i + 5..],
            None => head.split_once("impl").map_or("", |(_, rest)| rest),
        };
        let after = after.trim_start().trim_start_matches('<');
        return words(after.split('<').next().unwrap_or(after))
            .last()
            .map(str::to_owned);
    }
    let keywords = [
        "fn",
        "struct",
        "enum",
        "const",
        "static",
        "type",
        "trait",
        "union",
        "macro_rules",
    ];
    let at = head_words.iter().position(|w| keywords.contains(w))?;
    head_words.get(at + 1).map(|w| (*w).to_owned())
}

/// `const X: Var = Var { name: "X", … }` → `X`.
fn var_name(text: &str) -> Option<String> {
    if !text.contains(": Var = Var {") {
        return None;
    }
    let after = &text[text.find("name: \"")? + 7..];
    Some(after[..after.find('"')?].to_owned())
}

/// The `common` crate, module by module, and the part of it a sample needs.
pub struct CommonCrate {
    lib: String,
    /// Module name → its source (`src/<name>.rs`).
    modules: BTreeMap<String, String>,
    /// Name re-exported at the crate root → the module it comes from (`Token` → `token`).
    reexports: BTreeMap<String, String>,
    kept: Vec<String>,
}

impl CommonCrate {
    pub fn read(src: &Path) -> anyhow::Result<Self> {
        let lib = fs::read_to_string(src.join("lib.rs")).context("cannot read common/src/lib.rs")?;
        let mut modules = BTreeMap::new();
        let mut reexports = BTreeMap::new();
        for line in lib.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")) {
                let name = name.trim_end_matches(';').trim().to_owned();
                let path = src.join(format!("{name}.rs"));
                let text = fs::read_to_string(&path).with_context(|| {
                    format!(
                        "cannot read {} (eject copies common's modules as single files)",
                        path.display()
                    )
                })?;
                modules.insert(name, text);
            } else if let Some(tree) = line.strip_prefix("pub use ") {
                let mut names = words(tree);
                if let Some(module) = names.next() {
                    for name in names {
                        reexports.insert(name.to_owned(), module.to_owned());
                    }
                }
            }
        }
        Ok(Self {
            lib,
            modules,
            reexports,
            kept: Vec::new(),
        })
    }

    /// The modules a name seen after `common::` / `crate::` stands for.
    fn module_of(&self, name: &str) -> Option<&str> {
        if self.modules.contains_key(name) {
            return self.modules.get_key_value(name).map(|(k, _)| k.as_str());
        }
        self.reexports.get(name).map(String::as_str)
    }

    /// Keeps the modules `sample` names through `common::…` paths, and those they name through
    /// `crate::…` paths, transitively. Tests are left out (they stay in the workspace).
    pub fn cut_for(mut self, sample: &str) -> Self {
        let mut kept = BTreeSet::new();
        let mut todo: Vec<String> = path_words(&code_only(sample), "common::")
            .iter()
            .filter_map(|w| self.module_of(w).map(str::to_owned))
            .collect();
        // The crate root re-exports these; keep lib.rs's `pub use` lines valid.
        todo.extend(self.reexports.values().cloned());
        while let Some(module) = todo.pop() {
            if !kept.insert(module.clone()) {
                continue;
            }
            let text = code_only(&without_tests(&self.modules[&module]));
            for word in path_words(&text, "crate::") {
                if let Some(next) = self.module_of(&word) {
                    todo.push(next.to_owned());
                }
            }
        }
        for module in self.modules.values_mut() {
            *module = without_tests(module);
        }
        self.kept = kept.into_iter().collect();
        self
    }

    pub fn modules(&self) -> &[String] {
        &self.kept
    }

    /// Crate names (as identifiers: `rustls_pki_types`) the kept modules name in a path.
    pub fn crates_used(&self) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for module in &self.kept {
            let text = code_only(&self.modules[module]);
            for (i, _) in text.match_indices("::") {
                let before = &text[..i];
                let start = before.rfind(|c: char| !is_ident_char(c)).map_or(0, |j| j + 1);
                // `a::b::c` names crate `a` only: skip segments preceded by `::`.
                if !before[..start].ends_with("::") && start < i {
                    used.insert(before[start..].to_owned());
                }
            }
        }
        used
    }

    /// Writes `lib.rs` (without the modules left out) and the kept modules to `dest`.
    pub fn write_to(&self, dest: &Path) -> anyhow::Result<()> {
        fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
        let dropped = |name: &str| self.module_of(name).is_some_and(|m| !self.kept.iter().any(|k| k == m));
        let mut lib = Vec::new();
        let mut skipping_bullet = false;
        for line in self.lib.lines() {
            let trimmed = line.trim();
            // `//! - [`bundle`]: …` bullets (and their continuation lines) of dropped modules.
            if let Some(bullet) = trimmed.strip_prefix("//! - [`") {
                skipping_bullet = bullet.split('`').next().is_some_and(dropped);
            } else if !trimmed.starts_with("//!   ") {
                skipping_bullet = false;
            }
            let declares = trimmed
                .strip_prefix("pub mod ")
                .or_else(|| trimmed.strip_prefix("mod "))
                .or_else(|| trimmed.strip_prefix("pub use "))
                .and_then(|rest| words(rest).next());
            if skipping_bullet || declares.is_some_and(dropped) {
                continue;
            }
            lib.push(line);
        }
        let mut lib = lib.join("\n");
        lib.push('\n');
        fs::write(dest.join("lib.rs"), lib).context("cannot write common/src/lib.rs")?;
        for module in &self.kept {
            let path = dest.join(format!("{module}.rs"));
            fs::write(&path, &self.modules[module]).with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// The settings variables the sample reads: named in its own code, or in the items of the kept
/// `common` modules that its code reaches (`endpoints::rest_url` reads `STARGATE_REST_URL`, and
/// through `AstraDatabase::from_env` also `ASTRA_DB_ID` and `ASTRA_DB_REGION`).
pub fn variables_read(sample: &str, common: Option<&CommonCrate>) -> BTreeSet<String> {
    let sample = code_only(sample);
    let sample_items = items(&sample);
    let mut common_items = Vec::new();
    let mut roots: BTreeSet<String> = path_words(&sample, "common::");
    if let Some(common) = common {
        for module in common.modules() {
            common_items.extend(items(&common.modules[module]));
            roots.extend(path_words(&sample, &format!("{module}::")));
        }
    }
    let variables: BTreeMap<&str, &str> = sample_items
        .iter()
        .chain(&common_items)
        .filter_map(|i| i.variable.as_deref().map(|v| (i.name.as_str(), v)))
        .collect();

    // Every variable the sample's code names, and the items of common it names in a path
    // (`endpoints::rest_url`, `common::http::HttpError`): a bare word like `choose` in the sample
    // is its own, not common's. Then common's items reach common's items by name.
    let mut todo: Vec<&str> = words(&sample).filter(|w| variables.contains_key(w)).collect();
    todo.extend(roots.iter().map(String::as_str));
    let mut seen = BTreeSet::new();
    let mut read = BTreeSet::new();
    while let Some(word) = todo.pop() {
        if !seen.insert(word) {
            continue;
        }
        if let Some(var) = variables.get(word) {
            read.insert((*var).to_owned());
            continue;
        }
        for item in common_items.iter().filter(|i| i.name == word && i.variable.is_none()) {
            todo.extend(words(&item.text));
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_words_follow_groups() {
        let text = "use common::{Token, http::{self, HttpError}};\nlet x = common::settings::required(v);";
        let words = path_words(text, "common::");
        for w in ["Token", "http", "self", "HttpError", "settings", "required"] {
            assert!(words.contains(w), "{w} missing from {words:?}");
        }
        assert!(!words.contains("v"), "{words:?}");
        assert!(path_words("uncommon::x", "common::").is_empty());
    }

    #[test]
    fn items_and_their_names() {
        let text = "use a::b;\n\n/// doc\n#[derive(Debug)]\npub struct S {\n    x: u8,\n}\n\nimpl fmt::Display for S {\n    fn fmt() {}\n}\n\nconst HTTP: &[&str] = &[\"http\"];\npub const X: Var = Var {\n    name: \"X_VAR\",\n};\n";
        let names: Vec<_> = items(text).into_iter().map(|i| (i.name, i.variable)).collect();
        assert_eq!(
            names,
            [
                ("S".to_owned(), None),
                ("S".to_owned(), None),
                ("HTTP".to_owned(), None),
                ("X".to_owned(), Some("X_VAR".to_owned()))
            ]
        );
    }

    #[test]
    fn test_modules_are_cut() {
        let text = "fn a() {}\n\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\n";
        assert_eq!(without_tests(text), "fn a() {}\n");
    }
}
