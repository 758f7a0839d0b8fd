//! Every SWML script in `tests/examples/` (our own scripts, written from the method shapes in
//! SignalWire's public documentation) parses and validates.

use std::fs;
use std::path::PathBuf;

use weft_swml::Document;

/// The example files, sorted by name.
fn example_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/examples");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_validates() {
    let files = example_files();
    assert!(
        files.len() >= 20,
        "expected at least 20 examples, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        assert!(
            matches!(extension, "json" | "yaml"),
            "{}: examples are .json or .yaml",
            file.display()
        );
        let text = fs::read_to_string(file).expect("example text");
        match Document::parse(&text) {
            Ok(document) => assert!(
                document.sections.contains_key("main"),
                "{}: no main section",
                file.display()
            ),
            Err(invalid) => failures.push(format!("{}: {invalid}", file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "invalid examples:\n{}",
        failures.join("\n")
    );
}

#[test]
fn examples_come_in_both_forms() {
    let files = example_files();
    let count = |ext: &str| {
        files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == ext))
            .count()
    };
    assert!(count("json") >= 5, "JSON examples: {}", count("json"));
    assert!(count("yaml") >= 5, "YAML examples: {}", count("yaml"));
}
