//! The crate's shape, read off its sources: no import circle between its top-level modules, and
//! the kernel layer imports no model module (ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that hold models; the kernel layer must not import them.
const MODELS: [&str; 5] = ["ltc", "cfc", "liquid", "recurrent", "ode"];

/// Every `.rs` file under `dir` that is not a test file.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source folder") {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// `module → the top-level modules its code names as crate::…`, comments left out.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file");
        let edges = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // `crate::{a, b}` names several: take each.
                let names: Vec<String> = if let Some(list) = rest.strip_prefix('{') {
                    list.split('}')
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .map(|n| n.trim().split("::").next().unwrap_or("").to_string())
                        .collect()
                } else {
                    vec![name]
                };
                for name in names {
                    if !name.is_empty()
                        && name != module
                        && name.chars().next().is_some_and(char::is_lowercase)
                    {
                        edges.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// A circle through `node`, if there is one, as the path that closes it.
fn circle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut found = path[at..].to_vec();
        found.push(node.to_string());
        return Some(found);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(found) = circle(graph, next, path, done) {
            return Some(found);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let graph = graph();
    assert!(
        graph.contains_key("kernel") && graph.contains_key("ltc"),
        "{graph:?}"
    );
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = circle(&graph, node, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", found.join(" → "));
        }
    }
}

#[test]
fn the_kernel_layer_imports_no_model_module() {
    let graph = graph();
    let kernel = &graph["kernel"];
    for model in MODELS {
        assert!(
            !kernel.contains(model),
            "the kernel layer imports `crate::{model}`; model modules use the kernel layer, not \
             the other way round ({kernel:?})"
        );
    }
    // The models do use it.
    assert!(graph["ltc"].contains("kernel") && graph["cfc"].contains("kernel"));
}
