//! The files a course is made of.
//!
//! meshwork embeds `labs/`, `manifests/` and `slides/` in the binary; lab authors point
//! `--content DIR` at a checkout instead. Either way the rest of the program sees one
//! [`Content`]: a map from relative, `/`-separated paths (`labs/00-prerequisites/lab.yaml`)
//! to bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The top-level content folders meshwork reads.
pub const CONTENT_DIRS: [&str; 3] = ["labs", "manifests", "slides"];

/// Where a [`Content`] came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary.
    Embedded,
    /// Read from a directory given with `--content`.
    Directory(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Embedded => f.write_str("built-in content"),
            Origin::Directory(dir) => write!(f, "content in {}", dir.display()),
        }
    }
}

/// Reading a content directory failed.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The directory has none of `labs/`, `manifests/`, `slides/`.
    #[error(
        "{} does not look like meshwork content: it has no labs/ folder (expected DIR/labs/NN-slug/lab.yaml)",
        .0.display()
    )]
    NotContent(PathBuf),
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// An in-memory snapshot of a course's files.
#[derive(Debug, Clone)]
pub struct Content {
    origin: Origin,
    files: BTreeMap<String, Vec<u8>>,
}

impl Content {
    /// Content from `(relative path, bytes)` pairs, e.g. from `include_dir`.
    pub fn from_files<P: Into<String>>(
        origin: Origin,
        files: impl IntoIterator<Item = (P, Vec<u8>)>,
    ) -> Self {
        let files = files
            .into_iter()
            .map(|(p, b)| (p.into().replace('\\', "/"), b))
            .collect();
        Self { origin, files }
    }

    /// Reads `labs/`, `manifests/` and `slides/` below `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, ContentError> {
        if !dir.join("labs").is_dir() {
            return Err(ContentError::NotContent(dir.to_path_buf()));
        }
        let mut files = BTreeMap::new();
        for top in CONTENT_DIRS {
            let root = dir.join(top);
            if root.is_dir() {
                read_tree(dir, &root, &mut files)?;
            }
        }
        Ok(Self {
            origin: Origin::Directory(dir.to_path_buf()),
            files,
        })
    }

    /// Where the files came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The bytes of a file, if present.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The text of a file, if present and valid UTF-8.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Whether a file exists.
    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// All file paths below `prefix` (a folder, without trailing slash), sorted.
    pub fn paths_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.files
            .keys()
            .map(String::as_str)
            .filter(move |p| p.strip_prefix(prefix).is_some_and(|r| r.starts_with('/')))
    }

    /// Every file path, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

fn read_tree(
    base: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), ContentError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContentError::Io { path, source }
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            read_tree(base, &path, files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let rel = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.insert(rel, bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_matches_whole_folder_names() {
        let c = Content::from_files(
            Origin::Embedded,
            [
                ("labs/00-a/lab.yaml", b"x".to_vec()),
                ("labs2/x", b"y".to_vec()),
                ("manifests/a.yaml", b"z".to_vec()),
            ],
        );
        assert_eq!(
            c.paths_under("labs").collect::<Vec<_>>(),
            ["labs/00-a/lab.yaml"]
        );
        assert_eq!(c.text("manifests/a.yaml"), Some("z"));
    }

    #[test]
    fn from_dir_rejects_a_folder_without_labs() {
        let dir = tempfile::tempdir().unwrap();
        let err = Content::from_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("has no labs/ folder"), "{err}");
    }
}
