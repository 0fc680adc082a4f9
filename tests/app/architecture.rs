//! The module graph, read from the source: no import cycle among sibling modules anywhere, and
//! the top-level modules only point down the layers (`web → vault → google → store → secret`;
//! the emulator shares nothing with the app). A `use` or path that breaks this fails here,
//! with the offending edges named.
//!
//! Edges: every `crate::…`, `super::…` and `child::…` path outside `#[cfg(test)]` code,
//! resolved to the deepest file module it names. Only a parent's facade — its `mod` lines and
//! `pub use` re-exports of its children — is left out: a parent whose own code uses a child's
//! item depends on that child, and a parent counts as a node among its children, so a child
//! importing back what its parent defines is a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// What each top-level module may import from the crate.
const ALLOWED: &[(&str, &[&str])] = &[
    ("secret", &[]),
    ("meters", &[]),
    ("logging", &[]),
    ("store", &["meters", "secret"]),
    ("config", &["store"]),
    ("google", &["meters", "secret", "store"]),
    ("vault", &["meters", "secret", "store", "google"]),
    ("sync", &["meters", "secret", "store", "google", "vault"]),
    ("rekey", &["secret", "store", "vault"]),
    (
        "web",
        &[
            "config", "logging", "meters", "secret", "store", "google", "vault",
        ],
    ),
    (
        "startup",
        &[
            "config", "google", "meters", "rekey", "secret", "store", "sync", "vault", "web",
        ],
    ),
    (
        "check",
        &["config", "google", "rekey", "secret", "startup", "store"],
    ),
    (
        "testing",
        &["config", "google", "secret", "startup", "store", "vault"],
    ),
    (
        "cli",
        &["check", "config", "rekey", "startup", "store", "sync"],
    ),
];

/// `src/a/b.rs` and `src/a/b/mod.rs` → `a::b`; `src/lib.rs` → `` (the crate).
fn module_of(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => return Some(String::new()),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts.join("::"))
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments and without its `#[cfg(test)]` tail.
fn code_of(source: &str) -> String {
    let source = source.split("#[cfg(test)]").next().unwrap_or_default();
    source
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths written after `prefix::` in `code`, with `{a, b::c}` groups expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().last();
        rest = &rest[i + needle.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(rest, vec![], &mut out);
    }
    out
}

fn expand(text: &str, base: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = base;
    let mut t = text.trim_start();
    loop {
        if let Some(group) = t.strip_prefix('{') {
            let mut depth = 1;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        expand(&group[start..i], path.clone(), out);
                        start = i + 1;
                        if c == '}' {
                            return;
                        }
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            return;
        }
        let end = t
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(t.len());
        if end == 0 {
            break;
        }
        let segment = &t[..end];
        if segment != "self" {
            path.push(segment.to_string());
        }
        t = &t[end..];
        match t.strip_prefix("::") {
            Some(more) => t = more.trim_start(),
            None => break,
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// The deepest known module that `path` (from the crate root) names.
fn resolve(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The app's module graph.
fn graph() -> Graph {
    graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// The emulator crate's module graph (its own crate: the compiler already keeps it apart).
fn emulator_graph() -> Graph {
    graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/google-emulator/src"))
}

fn graph_of(src: &Path) -> Graph {
    let mut all = Vec::new();
    files(src, &mut all);
    let sources: Vec<(String, String)> = all
        .iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(src).unwrap();
            module_of(rel).map(|m| (m, std::fs::read_to_string(p).unwrap()))
        })
        .collect();
    graph_of_sources(&sources)
}

/// A module's `mod` declarations and `pub use` re-exports (its facade), apart from the rest
/// of its code.
fn split_facade(code: &str) -> (String, String) {
    const FACADE: &[&str] = &[
        "mod ",
        "pub mod ",
        "pub(crate) mod ",
        "pub(super) mod ",
        "pub use ",
        "pub(crate) use ",
        "pub(super) use ",
    ];
    let (mut facade, mut body) = (String::new(), String::new());
    let mut in_facade = false;
    for line in code.lines() {
        let trimmed = line.trim_start();
        if !in_facade && FACADE.iter().any(|f| trimmed.starts_with(f)) {
            in_facade = true;
        }
        if in_facade {
            facade.push_str(line);
            facade.push('\n');
            // A declaration or re-export ends with its `;` (or a `mod x {` block opens).
            if trimmed.ends_with(';') || trimmed.ends_with('{') {
                in_facade = false;
            }
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    (facade, body)
}

/// The module graph of `(module, source)` pairs. A parent's use of its own child's items
/// counts as an edge, except in its facade (`mod` lines and `pub use` re-exports).
fn graph_of_sources(sources: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = Graph::new();
    for (module, source) in sources {
        let here: Vec<String> = module.split("::").map(String::from).collect();
        // `super` of `a::b` is `a`, whether b is `a/b.rs` or `a/b/mod.rs`.
        let parent = &here[..here.len().saturating_sub(1)];
        let targets_of = |code: &str| {
            let mut targets = BTreeSet::new();
            for p in paths_after(code, "crate") {
                targets.extend(resolve(&p, &modules));
            }
            for p in paths_after(code, "super") {
                let mut full: Vec<String> = parent.to_vec();
                full.extend(p);
                targets.extend(resolve(&full, &modules));
            }
            // Paths relative to the module itself (`child::Item`) name its children.
            if !module.is_empty() {
                for child in modules.iter().filter_map(|m| {
                    m.strip_prefix(&format!("{module}::"))
                        .filter(|rest| !rest.contains("::"))
                }) {
                    if !paths_after(code, child).is_empty() {
                        targets.insert(format!("{module}::{child}"));
                    }
                }
            }
            targets
        };
        let (facade, body) = split_facade(&code_of(source));
        let edges = graph.entry(module.clone()).or_default();
        for t in targets_of(&body) {
            if t != *module && !t.is_empty() {
                edges.insert(t);
            }
        }
        // A re-export of another module's item is a dependency; of a child's, the facade.
        for t in targets_of(&facade) {
            let own_child = module.is_empty() || t.starts_with(&format!("{module}::"));
            if t != *module && !own_child && !t.is_empty() {
                edges.insert(t);
            }
        }
    }
    graph
}

/// The child of `parent` that `module` lies in (`a::b::c` under `a` → `a::b`); the parent's
/// own code stands for itself (`a` under `a` → `a`), so that a loop through it shows.
fn child_under(parent: &str, module: &str) -> Option<String> {
    if !parent.is_empty() && module == parent {
        return Some(parent.to_string());
    }
    let rest = if parent.is_empty() {
        module
    } else {
        module.strip_prefix(parent)?.strip_prefix("::")?
    };
    let first = rest.split("::").next().filter(|f| !f.is_empty())?;
    Some(if parent.is_empty() {
        first.to_string()
    } else {
        format!("{parent}::{first}")
    })
}

/// Edges between the children of `parent`, each module standing for its own subtree.
fn sibling_graph(graph: &Graph, parent: &str) -> Graph {
    let mut out = Graph::new();
    for (from, tos) in graph {
        let Some(a) = child_under(parent, from) else {
            continue;
        };
        for to in tos {
            if let Some(b) = child_under(parent, to) {
                if a != b {
                    out.entry(a.clone()).or_default().insert(b);
                }
            }
        }
    }
    out
}

/// One cycle of `graph`, if it has any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_its_way_into_a_cycle() {
    let (app, emulator) = (graph(), emulator_graph());
    assert!(app.contains_key("web::handlers::home") && emulator.contains_key("state"));
    let mut cycles = Vec::new();
    for (name, graph) in [("app", &app), ("emulator", &emulator)] {
        let parents: BTreeSet<String> = graph
            .keys()
            .map(|m| {
                m.rsplit_once("::")
                    .map_or(String::new(), |(p, _)| p.to_string())
            })
            .collect();
        for parent in &parents {
            if let Some(cycle) = find_cycle(&sibling_graph(graph, parent)) {
                cycles.push(format!("{name}: {}", cycle.join(" → ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn top_level_modules_point_only_down_the_layers() {
    let graph = sibling_graph(&graph(), "");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        let ok = allowed
            .get(from.as_str())
            .unwrap_or_else(|| panic!("new top-level module {from}: add it to ALLOWED"));
        for to in tos {
            if !ok.contains(&to.as_str()) {
                wrong.push(format!("{from} → {to}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows against the layers:\n{}",
        wrong.join("\n")
    );
    assert!(
        graph.get("web").is_some_and(|t| t.contains("vault")),
        "the graph is read from the source"
    );
}

/// The modules `from` reaches through its imports, each with the path that gets there.
fn reachable(graph: &Graph, from: &str) -> BTreeMap<String, Vec<String>> {
    let mut paths = BTreeMap::from([(from.to_string(), vec![from.to_string()])]);
    let mut queue = vec![from.to_string()];
    while let Some(node) = queue.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if !paths.contains_key(next) {
                let mut path = paths[&node].clone();
                path.push(next.clone());
                paths.insert(next.clone(), path);
                queue.push(next.clone());
            }
        }
    }
    paths
}

#[test]
fn no_middleware_reaches_a_handler() {
    let graph = graph();
    let wrong: Vec<String> = graph
        .keys()
        .filter(|from| from.starts_with("web::middleware"))
        .flat_map(|from| {
            reachable(&graph, from)
                .into_iter()
                .filter(|(to, _)| to.starts_with("web::handlers"))
                .map(|(_, path)| path.join(" → "))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "middleware reaching handlers:\n{}",
        wrong.join("\n")
    );
    assert!(
        graph["web::middleware::render"].contains("web::page"),
        "the graph is read from the source"
    );
    // The check can tell: through the route table, a middleware would reach every handler.
    let mut through_routes = graph.clone();
    through_routes
        .entry("web::middleware::admission".into())
        .or_default()
        .insert("web::routes".into());
    assert!(reachable(&through_routes, "web::middleware::admission")
        .keys()
        .any(|m| m.starts_with("web::handlers")));
}

#[test]
fn the_reader_finds_the_cycles_it_must_refuse() {
    // The issue's own examples, as they stood before the split.
    let mut g = Graph::new();
    g.entry("emulator::state".into())
        .or_default()
        .insert("emulator::faults".into());
    g.entry("emulator::faults".into())
        .or_default()
        .insert("emulator::state".into());
    assert!(find_cycle(&sibling_graph(&g, "emulator")).is_some());
    let mut out = Vec::new();
    expand("{csrf, session::{self, Key}, State};", vec![], &mut out);
    assert_eq!(
        out,
        vec![
            vec!["csrf".to_string()],
            vec!["session".to_string()],
            vec!["session".to_string(), "Key".to_string()],
            vec!["State".to_string()],
        ]
    );
}

#[test]
fn a_parent_that_uses_its_childs_item_depends_on_it() {
    let sources = |parent: &str| {
        vec![
            ("web".to_string(), parent.to_string()),
            (
                "web::authcode".to_string(),
                "use super::AppState;\npub struct MobileClients;\n".to_string(),
            ),
            (
                "web::state".to_string(),
                "pub struct AppState { pub mobile: crate::google::Mobile }\n".to_string(),
            ),
            ("google".to_string(), "pub struct Mobile;\n".to_string()),
        ]
    };
    // AppState in the parent, holding a child's type that imports AppState back: a loop.
    let holds = "pub mod authcode;\npub mod state;\n\
                 pub struct AppState {\n    pub mobile: authcode::MobileClients,\n}\n";
    let cycle = find_cycle(&sibling_graph(&graph_of_sources(&sources(holds)), "web"));
    assert_eq!(
        cycle,
        Some(vec![
            "web".to_string(),
            "web::authcode".to_string(),
            "web".to_string()
        ])
    );
    // The same through a child module's path (`use self::authcode::…`, `crate::web::…`).
    let imports = "pub mod authcode;\npub mod state;\nuse crate::web::authcode::MobileClients;\n";
    assert!(find_cycle(&sibling_graph(&graph_of_sources(&sources(imports)), "web")).is_some());
    // Only declarations and re-exports: a facade, no loop.
    let facade = "pub mod authcode;\npub mod state;\npub use state::{\n    AppState,\n};\n";
    let graph = graph_of_sources(&sources(facade));
    assert_eq!(find_cycle(&sibling_graph(&graph, "web")), None);
    assert!(graph["web"].is_empty(), "{graph:?}");
    assert!(graph["web::state"].contains("google"));
}
