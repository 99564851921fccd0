//! `.env.example` for one sample: the workspace's `.env.example` cut down to the variables the
//! sample reads, each with its comment lines and under its section heading.

use std::collections::BTreeSet;

/// One variable line of the workspace's `.env.example` and the comment lines right above it.
struct Entry<'a> {
    section: Option<&'a str>,
    comments: Vec<&'a str>,
    line: &'a str,
    name: &'a str,
}

fn entries(root: &str) -> Vec<Entry<'_>> {
    let mut entries = Vec::new();
    let mut section = None;
    let mut comments = Vec::new();
    for line in root.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("# ---") {
            section = Some(line);
            comments.clear();
        } else if trimmed.starts_with('#') {
            comments.push(line);
        } else if trimmed.is_empty() {
            comments.clear();
        } else if let Some((name, _)) = trimmed.split_once('=') {
            entries.push(Entry {
                section,
                comments: std::mem::take(&mut comments),
                line,
                name: name.trim(),
            });
        }
    }
    entries
}

/// The `.env.example` of `package`, from the workspace's one (`root`) and the variables it reads.
/// Variables the workspace's file does not list (it should) still get an empty line.
pub fn for_sample(package: &str, root: &str, read: &BTreeSet<String>) -> String {
    let mut out = format!(
        "# Settings for {package}. Copy to .env and fill in what the sample needs:\n\
         #   cp .env.example .env\n\
         # Variables already set in the environment win over .env. Never commit .env: it holds secrets.\n"
    );
    let mut section = None;
    let mut listed = BTreeSet::new();
    for entry in entries(root).iter().filter(|e| read.contains(e.name)) {
        if listed.is_empty() || entry.section != section {
            out.push('\n');
            if let Some(heading) = entry.section.filter(|_| entry.section != section) {
                out.push_str(heading);
                out.push('\n');
            }
            section = entry.section;
        }
        for comment in &entry.comments {
            out.push_str(comment);
            out.push('\n');
        }
        out.push_str(entry.line);
        out.push('\n');
        listed.insert(entry.name);
    }
    let missing: Vec<&String> = read.iter().filter(|name| !listed.contains(name.as_str())).collect();
    if !missing.is_empty() {
        out.push_str("\n# --- Also read by this sample ---\n");
        for name in missing {
            out.push_str(name);
            out.push_str("=\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "# header\n\n# --- A ---\n# about X\nX=1\n# about Y\nY=\n\n# --- B ---\n# about Z\n# more\nZ=\n";

    #[test]
    fn keeps_only_the_variables_read_with_their_comments() {
        let read: BTreeSet<String> = ["X", "Z", "EXTRA"].into_iter().map(String::from).collect();
        let out = for_sample("sample-x", ROOT, &read);
        assert!(out.starts_with("# Settings for sample-x."), "{out}");
        assert!(
            out.ends_with(
                "\n# --- A ---\n# about X\nX=1\n\n# --- B ---\n# about Z\n# more\nZ=\n\n# --- Also read by this sample ---\nEXTRA=\n"
            ),
            "{out}"
        );
        assert!(!out.contains("Y="), "{out}");
        assert!(!out.contains("# header"), "{out}");
    }
}
