//! The course content: compiled into the binary, or read from `--content DIR`.
//!
//! `labs/`, `manifests/` and `slides/` are embedded with `include_dir!` so an installed
//! `meshwork` works from any directory. Files whose name starts with a dot (editor swap files)
//! are left out, as [`Content::from_dir`] does for a directory. Files directly inside a content
//! folder (its README.md) are embedded too; the loader only reads `labs/NN-slug/…`.

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use meshwork_checks::Content;
use meshwork_checks::content::{CONTENT_DIRS, Origin};
use meshwork_checks::course::{self, Course, LoadErrors};
use std::path::Path;

static LABS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/labs");
static MANIFESTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/manifests");
static SLIDES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/slides");

/// The content compiled into this binary.
pub fn embedded() -> Content {
    let mut files = Vec::new();
    for (top, dir) in CONTENT_DIRS.iter().zip([&LABS, &MANIFESTS, &SLIDES]) {
        collect(top, dir, &mut files);
    }
    Content::from_files(Origin::Embedded, files)
}

fn collect(top: &str, dir: &Dir<'static>, out: &mut Vec<(String, Vec<u8>)>) {
    for file in dir.files() {
        let hidden = file
            .path()
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden {
            let rel = file.path().to_string_lossy().replace('\\', "/");
            out.push((format!("{top}/{rel}"), file.contents().to_vec()));
        }
    }
    for sub in dir.dirs() {
        let hidden = sub
            .path()
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden {
            collect(top, sub, out);
        }
    }
}

/// The content from `dir`, or the embedded copy when `dir` is `None`.
pub fn open(dir: Option<&Path>) -> anyhow::Result<Content> {
    match dir {
        None => Ok(embedded()),
        Some(dir) => Content::from_dir(dir)
            .with_context(|| format!("failed to read course content from {}", dir.display())),
    }
}

/// Loads and validates the course, or says which files are wrong and how to see them all.
pub fn course(content: &Content) -> anyhow::Result<Course> {
    course::load::load(content).map_err(|errors| invalid(content, &errors))
}

fn invalid(content: &Content, errors: &LoadErrors) -> anyhow::Error {
    let n = errors.0.len();
    let origin = content.origin();
    let lint = match origin {
        Origin::Embedded => "meshwork lint".to_string(),
        Origin::Directory(dir) => format!("meshwork lint {}", dir.display()),
    };
    anyhow::anyhow!(
        "the {origin} is not valid ({n} problem{}); fix it and run `{lint}` to check:\n{errors}",
        if n == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_content_keeps_content_relative_paths() {
        let content = embedded();
        assert_eq!(content.origin(), &Origin::Embedded);
        assert!(content.contains("labs/README.md"));
        assert!(content.contains("manifests/README.md"));
        assert!(
            content
                .paths()
                .all(|p| CONTENT_DIRS.iter().any(|d| p.starts_with(&format!("{d}/"))))
        );
        assert!(content.paths().all(|p| !p.contains('\\')));
    }

    #[test]
    fn embedded_content_is_a_valid_course() {
        let content = embedded();
        let course = course(&content).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(!course.labs.is_empty());
    }

    #[test]
    fn a_directory_without_labs_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(Some(dir.path())).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("failed to read course content from"),
            "{text}"
        );
        assert!(text.contains("has no labs/ folder"), "{text}");
    }
}
