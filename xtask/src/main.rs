//! Project automation, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! `cargo xtask test` is the one test command: formatting, clippy, and every test once per
//! backend, with a summary per backend. Standard library only, so it builds in seconds.

mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use watch::{Ended, run_watched};

const HELP: &str = "\
cargo xtask <command>

Commands:
  test [--backend ndarray|wgpu]... [--no-lint]
        cargo fmt --check, cargo clippy -D warnings, cargo doc -D warnings, the no-std check of
        ltc-runtime (its dependency tree, and tests/nostd built and run with no std, no
        allocator and no C start-up), then every test (unit, integration, doc)
        once per backend, and a summary per backend. Without --backend: every backend.
        ndarray runs the f32 and f64 instantiations and every backend-independent test;
        wgpu runs on Vulkan (Mesa's lavapipe on machines without a GPU).
        A test command that prints nothing for XTASK_STALL_MINUTES (default 20) is killed
        with every process it started, naming the tests still running, and the run fails.
  parity [DIR] [--backend ndarray|ndarray-f64|wgpu]...
        Runs every ncps fixture in DIR (default: fixtures/ncps) on each backend: outputs,
        states, losses, all gradients, the input gradient and one Adam step, against ncps
        1.0.1. One row per file with the largest differences; exit status 1 beyond tolerance.
  bench [--backend ndarray|wgpu] [--threads 1 2] [--models NAME...] [--iters N] [--warmup N]
        Times the LTC train step, forward and B=1 step on the ncps peer's workloads (profile
        dev, ltc-bench at opt-level 3) next to ncps's numbers. When the Python peer is installed (LTC_PEER_PYTHON,
        or .venv-peer/bin/python, with torch and ncps), runs tools/bench_ncps.py in the same
        invocation and prints measured ratios.
  help  this text
";

/// A backend the tests are instantiated for (by `ltc_testing::backend_tests!`, as the
/// `backend_<name>` modules this filters on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    NdArray,
    Wgpu,
}

impl Backend {
    const ALL: [Backend; 2] = [Backend::NdArray, Backend::Wgpu];

    fn name(self) -> &'static str {
        match self {
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The cargo invocations that run this backend's tests: (cargo args, test-binary args,
    /// extra environment).
    fn runs(self) -> Vec<TestRun> {
        match self {
            // Everything except the wgpu instantiations: ndarray f32 and f64 modules, the
            // backend-independent tests, and the doc tests (which default to ndarray).
            Backend::NdArray => vec![TestRun {
                what: "unit, integration and doc tests",
                cargo: &["test", "--workspace", "--no-fail-fast"],
                filter: &["--skip", "backend_wgpu::"],
                env: &[],
            }],
            Backend::Wgpu => vec![
                TestRun {
                    what: "unit and integration tests",
                    cargo: &["test", "--workspace", "--no-fail-fast", "--lib", "--tests"],
                    filter: &["backend_wgpu::"],
                    env: &[],
                },
                TestRun {
                    what: "doc tests",
                    cargo: &["test", "--workspace", "--no-fail-fast", "--doc"],
                    filter: &[],
                    // Doc examples pick `burn::backend::Wgpu` under this cfg (hidden lines).
                    env: &[("RUSTDOCFLAGS", "--cfg ltc_doc_wgpu")],
                },
            ],
        }
    }
}

/// A check run before the tests: what it is, its cargo arguments, an extra variable.
struct Lint {
    what: &'static str,
    args: &'static [&'static str],
    env: Option<(&'static str, &'static str)>,
}

struct TestRun {
    what: &'static str,
    cargo: &'static [&'static str],
    filter: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

#[derive(Default, Clone, Copy, Debug)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => match parse_test_args(&args[1..]) {
            Ok((backends, lint)) => test(&backends, lint),
            Err(message) => {
                eprintln!("xtask test: {message}\n\n{HELP}");
                ExitCode::from(2)
            }
        },
        Some("parity") => parity(&args[1..]),
        Some("bench") => bench(&args[1..]),
        None | Some("help" | "--help" | "-h") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

fn parse_test_args(args: &[String]) -> Result<(Vec<Backend>, bool), String> {
    let mut backends = Vec::new();
    let mut lint = true;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--backend" => {
                let name = iter
                    .next()
                    .ok_or("--backend needs a value: ndarray or wgpu")?;
                let backend = Backend::parse(name).ok_or_else(|| {
                    format!("unknown backend `{name}`; expected one of: ndarray, wgpu")
                })?;
                if !backends.contains(&backend) {
                    backends.push(backend);
                }
            }
            "--no-lint" => lint = false,
            "--help" | "-h" => return Err("help requested".into()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if backends.is_empty() {
        backends = Backend::ALL.to_vec();
    }
    Ok((backends, lint))
}

/// The workspace of the checkout `cargo xtask` was started in. Cargo sets `CARGO_MANIFEST_DIR`
/// for the programs it runs; the path compiled in is only the fallback: CI shares one target
/// folder between clones, and a binary built in another clone (cargo reuses it when the sources
/// match) would otherwise work in that clone's folder, or in one that no longer exists.
fn workspace_root() -> PathBuf {
    workspace_root_from(std::env::var_os("CARGO_MANIFEST_DIR"))
}

/// [`workspace_root`] given the run's `CARGO_MANIFEST_DIR`, if set.
fn workspace_root_from(manifest_dir: Option<OsString>) -> PathBuf {
    manifest_dir
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Runs a program of the workspace through `cargo run`, passing its exit status on.
fn run_program(
    cargo_args: &[&str],
    args: &[String],
    env: Vec<(&'static str, OsString)>,
) -> ExitCode {
    let status = cargo()
        .args(cargo_args)
        .arg("--")
        .args(args)
        .envs(env)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().map_or(1, |c| c.clamp(1, 255) as u8)),
        Err(e) => {
            eprintln!("xtask: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parity(args: &[String]) -> ExitCode {
    // Relative folders are the caller's, not the workspace root's.
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            let p = Path::new(a);
            if !a.starts_with('-') && p.is_relative() && p.exists() {
                std::env::current_dir()
                    .map(|d| d.join(p).display().to_string())
                    .unwrap_or_else(|_| a.clone())
            } else {
                a.clone()
            }
        })
        .collect();
    run_program(&["run", "-q", "-p", "ltc-parity"], &args, gpu_environment())
}

/// The Python peer: `LTC_PEER_PYTHON`, else `.venv-peer/bin/python` at the workspace root, if
/// it imports torch and ncps.
fn peer_python() -> Option<String> {
    let candidate = std::env::var("LTC_PEER_PYTHON").ok().or_else(|| {
        let venv = workspace_root().join(".venv-peer/bin/python");
        venv.exists().then(|| venv.display().to_string())
    })?;
    let ok = Command::new(&candidate)
        .args(["-c", "import torch, ncps"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "xtask bench: {candidate} cannot import torch and ncps; running without the peer"
        );
    }
    ok.then_some(candidate)
}

fn bench(args: &[String]) -> ExitCode {
    let mut args = args.to_vec();
    match peer_python() {
        Some(python) => {
            let script = workspace_root().join("tools/bench_ncps.py");
            args.extend(["--peer".into(), python, script.display().to_string()]);
        }
        None => eprintln!(
            "xtask bench: no Python peer (set LTC_PEER_PYTHON, or: python3 -m venv .venv-peer && \
             .venv-peer/bin/pip install torch ncps==1.0.1); comparing with ncps's published numbers"
        ),
    }
    run_program(&["run", "-q", "-p", "ltc-bench"], &args, gpu_environment())
}

fn test(backends: &[Backend], lint: bool) -> ExitCode {
    if backends.contains(&Backend::Wgpu)
        && let Err(message) = check_vulkan()
    {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    let env = gpu_environment();
    let stall = match watch::stall_limit() {
        Ok(stall) => stall,
        Err(message) => {
            eprintln!("xtask test: {message}");
            return ExitCode::from(2);
        }
    };

    if lint {
        let lints = [
            Lint {
                what: "cargo fmt --check",
                args: &["fmt", "--all", "--", "--check"],
                env: None,
            },
            Lint {
                what: "cargo clippy -D warnings",
                args: &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                env: None,
            },
            Lint {
                what: "cargo doc (doc warnings and broken intra-doc links are errors)",
                args: &["doc", "--no-deps", "--workspace", "--quiet"],
                env: Some(("RUSTDOCFLAGS", "-D warnings")),
            },
        ];
        for Lint { what, args, env } in lints {
            println!("==> {what}");
            let mut command = cargo();
            command.args(args);
            if let Some((key, value)) = env {
                command.env(key, value);
            }
            let status = command.status();
            if !matches!(status, Ok(s) if s.success()) {
                eprintln!("xtask test: `{what}` failed; fix the above (or run `cargo fmt --all`).");
                return ExitCode::FAILURE;
            }
        }
    }

    println!("==> ltc-runtime: no std, no alloc");
    if let Err(message) = runtime_is_no_std() {
        eprintln!("xtask test: ltc-runtime: {message}");
        return ExitCode::FAILURE;
    }

    let mut rows = Vec::new();
    let mut generic = BTreeMap::new();
    let mut all_ok = true;
    let mut stalled = None;
    for &backend in backends {
        let mut counts = Counts::default();
        let mut ok = true;
        for run in backend.runs() {
            if stalled.is_some() {
                break;
            }
            println!("==> {} backend: {}", backend.name(), run.what);
            let (run_counts, ended) = run_cargo_test(&run, &env, stall, &mut generic);
            counts.add(run_counts);
            match ended {
                Ended::Exited(success) => ok &= success,
                Ended::NotStarted(e) => {
                    eprintln!("xtask test: cannot start cargo: {e}");
                    ok = false;
                }
                Ended::Stalled(stall_report) => {
                    let what = format!("{} backend: {}", backend.name(), run.what);
                    let report = stall_report.report(&what, stall);
                    eprintln!("{report}");
                    stalled = Some(report);
                    ok = false;
                }
            }
        }
        all_ok &= ok && counts.failed == 0;
        rows.push((backend, counts, ok));
    }

    println!("\n==> summary");
    println!(
        "{:<10} {:>7} {:>7} {:>8}",
        "backend", "passed", "failed", "ignored"
    );
    let mut total = Counts::default();
    for (backend, counts, ok) in &rows {
        let note = if *ok {
            ""
        } else {
            "  (cargo reported an error: see above)"
        };
        println!(
            "{:<10} {:>7} {:>7} {:>8}{note}",
            backend.name(),
            counts.passed,
            counts.failed,
            counts.ignored
        );
        total.add(*counts);
    }
    report_generic(&generic);
    println!(
        "total: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.ignored
    );
    if let Some(report) = stalled {
        // Again at the end, where it is read; the later passes did not run.
        eprintln!("{report}\n  the backends after it did not run");
        return ExitCode::FAILURE;
    }
    if all_ok && total.passed > 0 {
        ExitCode::SUCCESS
    } else {
        if total.passed == 0 {
            eprintln!("xtask test: no test ran");
        }
        ExitCode::FAILURE
    }
}

/// Prints how many backend-generic tests passed per backend instantiation, and which of them
/// did not pass everywhere.
/// ltc-runtime needs nothing but `core` (and libm): its source says `#![no_std]` and links no
/// `alloc` or `std` crate, its normal dependencies are libm alone, and a program with no std,
/// no allocator and no C start-up (`tests/nostd`) builds against it and steps a model to the
/// end.
fn runtime_is_no_std() -> Result<(), String> {
    let root = workspace_root();
    let src = root.join("ltc-runtime/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).map_err(|e| format!("lib.rs: {e}"))?;
    if !lib.lines().any(|l| l.trim() == "#![no_std]") {
        return Err("src/lib.rs lost its #![no_std]".into());
    }
    let files = std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for file in files.flatten() {
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        for line in text.lines() {
            if let Some(krate) = extern_std_crate(line) {
                return Err(format!("{} links `{krate}`", file.path().display()));
            }
        }
    }
    let output = cargo()
        .args([
            "tree",
            "-p",
            "ltc-runtime",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}"])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    let tree = String::from_utf8_lossy(&output.stdout);
    let packages = tree_packages(&tree);
    if !output.status.success() || packages != ["libm", "ltc-runtime"] {
        return Err(format!(
            "its dependencies must be libm alone, cargo tree says: {packages:?}"
        ));
    }
    // Its `_start` and `exit` are x86-64 Linux assembly.
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        println!("  tests/nostd runs on x86-64 Linux only: skipped here");
        return Ok(());
    }
    let status = cargo()
        .args(["run", "--release", "--locked", "--quiet", "--manifest-path"])
        .arg(root.join("tests/nostd/Cargo.toml"))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("tests/nostd failed: {status}"));
    }
    Ok(())
}

/// The crate an `extern crate alloc;` or `extern crate std;` line links.
fn extern_std_crate(line: &str) -> Option<&'static str> {
    let words: Vec<&str> = line
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    match words.as_slice() {
        ["extern", "crate", "alloc", ..] => Some("alloc"),
        ["extern", "crate", "std", ..] => Some("std"),
        _ => None,
    }
}

/// The package names of `cargo tree --prefix none --format {p}`, sorted and without repeats.
fn tree_packages(tree: &str) -> Vec<String> {
    let names: BTreeSet<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect();
    names.into_iter().collect()
}

fn report_generic(generic: &BTreeMap<String, BTreeSet<String>>) {
    if generic.is_empty() {
        return;
    }
    let counts: Vec<String> = generic
        .iter()
        .map(|(backend, tests)| {
            format!("{} {}", backend.trim_start_matches("backend_"), tests.len())
        })
        .collect();
    println!(
        "backend-generic tests passed per instantiation: {}",
        counts.join(", ")
    );
    let all: BTreeSet<&String> = generic.values().flatten().collect();
    for (backend, tests) in generic {
        for test in all.iter().filter(|t| !tests.contains(**t)) {
            println!(
                "  not passed on {}: {test}",
                backend.trim_start_matches("backend_")
            );
        }
    }
}

/// Runs one `cargo test` under the stall watchdog, echoing its output and adding up the
/// libtest result lines.
fn run_cargo_test(
    run: &TestRun,
    env: &[(&str, OsString)],
    stall: Duration,
    generic: &mut BTreeMap<String, BTreeSet<String>>,
) -> (Counts, Ended) {
    let mut command = cargo();
    command.args(run.cargo).arg("--").args(run.filter);
    command.envs(env.iter().map(|(k, v)| (*k, v)));
    for (key, value) in run.env {
        command.env(key, value);
    }
    let mut counts = Counts::default();
    let ended = run_watched(&mut command, stall, |line| {
        if let Some(result) = parse_result_line(line) {
            counts.add(result);
        }
        if let Some((backend, test)) = parse_generic_pass(line) {
            generic.entry(backend).or_default().insert(test);
        }
    });
    (counts, ended)
}

/// A passed instantiation of a backend-generic test: `test a::b::backend_wgpu::name ... ok`
/// gives `("backend_wgpu", "a::b::name")`.
fn parse_generic_pass(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("test ")?;
    let (path, outcome) = rest.split_once(" ... ")?;
    if outcome != "ok" {
        return None;
    }
    let path = path.strip_suffix(" - should panic").unwrap_or(path);
    let mut segments: Vec<&str> = path.split("::").collect();
    let index = segments.iter().position(|s| s.starts_with("backend_"))?;
    let backend = segments.remove(index).to_string();
    Some((backend, segments.join("::")))
}

/// Parses `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 3 filtered out; …`.
fn parse_result_line(line: &str) -> Option<Counts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut counts = Counts::default();
    for part in rest.split(';') {
        let mut words = part.split_whitespace().rev();
        let (Some(kind), Some(number)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match kind {
            "passed" => counts.passed = number,
            "failed" => counts.failed = number,
            "ignored" => counts.ignored = number,
            _ => {}
        }
    }
    Some(counts)
}

/// Where the Vulkan loader and driver manifests are looked for on Linux.
const LOADER_DIRS: [&str; 7] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
];
const ICD_DIRS: [&str; 3] = [
    "/usr/share/vulkan/icd.d",
    "/etc/vulkan/icd.d",
    "/usr/local/share/vulkan/icd.d",
];

/// wgpu needs a Vulkan loader and at least one driver on Linux; say how to get them.
fn check_vulkan() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Ok(()); // Metal / DX12 ship with the system.
    }
    let mut loader_dirs: Vec<PathBuf> = LOADER_DIRS.iter().map(PathBuf::from).collect();
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        loader_dirs.extend(std::env::split_paths(&paths));
    }
    let icd_dirs: Vec<PathBuf> = ICD_DIRS.iter().map(PathBuf::from).collect();
    let driver_env = ["VK_DRIVER_FILES", "VK_ICD_FILENAMES"]
        .iter()
        .any(|key| std::env::var_os(key).is_some());
    vulkan_status(&loader_dirs, &icd_dirs, driver_env)
}

/// `Ok` when a loader (`libvulkan.so.1`) is in one of `loader_dirs` and a driver manifest
/// (`*.json`) in one of `icd_dirs` (or named by the environment); otherwise the message that
/// says what is missing and how to install it.
fn vulkan_status(
    loader_dirs: &[PathBuf],
    icd_dirs: &[PathBuf],
    driver_env: bool,
) -> Result<(), String> {
    let loader = loader_dirs
        .iter()
        .any(|dir| dir.join("libvulkan.so.1").exists());
    let driver = driver_env
        || icd_dirs.iter().any(|dir| {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.path().extension().is_some_and(|ext| ext == "json"))
            })
        });
    if loader && driver {
        return Ok(());
    }
    let missing = match (loader, driver) {
        (false, false) => "the Vulkan loader (libvulkan.so.1) and any Vulkan driver",
        (false, true) => "the Vulkan loader (libvulkan.so.1)",
        _ => "a Vulkan driver (no ICD manifest in /usr/share/vulkan/icd.d)",
    };
    Err(format!(
        "xtask test: the wgpu backend needs Vulkan, but {missing} is missing.\n\
         On Debian or Ubuntu, with or without a GPU (Mesa's lavapipe runs Vulkan on the CPU):\n\
         \n    sudo apt-get install -y mesa-vulkan-drivers libvulkan1\n\n\
         Or test the CPU backend only: cargo xtask test --backend ndarray"
    ))
}

/// Quiet, cached and predictable GPU runs: a private runtime dir for Mesa, and CubeCL's
/// autotuning at its minimal level (lavapipe is for correctness, not speed). Variables the
/// caller already set are kept. Returned as overrides for the child processes.
fn gpu_environment() -> Vec<(&'static str, OsString)> {
    let mut env = Vec::new();
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join("ltc-burn-xdg-runtime");
        if std::fs::create_dir_all(&dir).is_ok() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            }
            env.push(("XDG_RUNTIME_DIR", dir.into_os_string()));
        }
    }
    if std::env::var_os("CUBECL_AUTOTUNE_LEVEL").is_none() {
        env.push(("CUBECL_AUTOTUNE_LEVEL", "minimal".into()));
    }
    env
}

#[cfg(test)]
mod tests;
