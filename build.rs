//! Rebuilds the binary when course content changes.
//!
//! `include_dir!` notices edits to files it already embeds but not files that were added or
//! removed; watching the folders makes cargo rebuild for those too.

fn main() {
    for dir in ["labs", "manifests", "slides"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
