//! Running a command with a stall watchdog: a test that hangs (a deadlock, a solver that never
//! returns) must fail `cargo xtask test` with its name, not run until CI's own time limit kills
//! everything without a word.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a test command may print nothing (stdout and stderr together) once its tests run
/// before the watchdog calls it hung, unless `XTASK_STALL_MINUTES` says otherwise. The slowest
/// single tests seen (lavapipe, the f64 child process) take a few minutes. The build before the
/// first test binary runs is not timed: cargo prints nothing while it compiles and links the
/// largest test binaries (11 minutes seen on a 2-core machine).
pub const DEFAULT_STALL_MINUTES: u64 = 20;

/// The stall limit: `XTASK_STALL_MINUTES` (a positive whole number of minutes), or
/// [`DEFAULT_STALL_MINUTES`].
pub fn stall_limit() -> Result<Duration, String> {
    parse_stall_minutes(std::env::var("XTASK_STALL_MINUTES").ok().as_deref())
}

/// The stall limit from the variable's value, if set.
fn parse_stall_minutes(value: Option<&str>) -> Result<Duration, String> {
    match value {
        None => Ok(Duration::from_secs(DEFAULT_STALL_MINUTES * 60)),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(minutes) if minutes > 0 => Ok(Duration::from_secs(minutes * 60)),
            _ => Err(format!(
                "XTASK_STALL_MINUTES={text:?}: expected a positive whole number of minutes \
                 (default {DEFAULT_STALL_MINUTES})"
            )),
        },
    }
}

/// How a watched command ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited by itself; `true` when successfully.
    Exited(bool),
    /// It printed nothing for the stall limit and was killed with every process under it.
    Stalled(Stall),
    /// It could not be started.
    NotStarted(String),
}

/// What was running when a command stalled.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Stall {
    /// Tests libtest had reported running for over 60 seconds and that had not finished.
    pub running: Vec<String>,
    /// The test binary cargo was running (its `Running …` line), if it said.
    pub binary: Option<String>,
    /// The last line the command printed.
    pub last_line: Option<String>,
}

impl Stall {
    /// The report for a command that printed nothing for `limit`.
    pub fn report(&self, what: &str, limit: Duration) -> String {
        let mut text = format!(
            "xtask test: `{what}` printed nothing for {} minutes: a hung test? Killed it and \
             every process it started.",
            limit.as_secs() / 60
        );
        if let Some(binary) = &self.binary {
            text.push_str(&format!("\n  test binary: {binary}"));
        }
        if self.running.is_empty() {
            text.push_str("\n  no test had been running for over 60 seconds by libtest's notices");
        }
        for test in &self.running {
            text.push_str(&format!("\n  still running: {test}"));
        }
        if let Some(line) = &self.last_line {
            text.push_str(&format!("\n  its last line: {line}"));
        }
        text.push_str(
            "\n  (a legitimately silent step longer than that: raise XTASK_STALL_MINUTES)",
        );
        text
    }
}

enum Line {
    Out(String),
    Err(String),
}

/// Forwards `reader`'s lines (lossily decoded) into `sender`, wrapped by `wrap`.
fn forward(
    reader: impl Read + Send + 'static,
    sender: mpsc::Sender<Line>,
    wrap: fn(String) -> Line,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buffer);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if sender.send(wrap(line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Runs `command` with its stdout and stderr echoed line by line (stdout lines also handed to
/// `on_stdout`), and kills it, with every process under it, when it prints nothing for `stall`
/// after cargo has started running tests (its first `Running …` or `Doc-tests …` line).
pub fn run_watched(
    command: &mut Command,
    stall: Duration,
    mut on_stdout: impl FnMut(&str),
) -> Ended {
    let mut child = match command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Ended::NotStarted(e.to_string()),
    };
    let (sender, receiver) = mpsc::channel();
    forward(
        child.stdout.take().expect("piped"),
        sender.clone(),
        Line::Out,
    );
    forward(child.stderr.take().expect("piped"), sender, Line::Err);

    let mut running = BTreeSet::new();
    let mut stalled = Stall::default();
    let mut testing = false;
    loop {
        let line = if testing {
            receiver.recv_timeout(stall)
        } else {
            receiver
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        };
        match line {
            Ok(Line::Out(line)) => {
                println!("{line}");
                on_stdout(&line);
                if let Some(test) = long_running_test(&line) {
                    running.insert(test.to_string());
                } else if let Some(test) = finished_test(&line) {
                    running.remove(test);
                }
                stalled.last_line = Some(line);
            }
            Ok(Line::Err(line)) => {
                eprintln!("{line}");
                // `Running tests/x.rs (deps/x-…)` or `Doc-tests crate`: a test binary starts.
                let trimmed = line.trim_start();
                let binary = trimmed
                    .strip_prefix("Running ")
                    .or_else(|| trimmed.starts_with("Doc-tests ").then_some(trimmed));
                if let Some(binary) = binary {
                    stalled.binary = Some(binary.to_string());
                    running.clear();
                    testing = true;
                }
                stalled.last_line = Some(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_tree(child.id());
                let _ = child.kill();
                let _ = child.wait();
                stalled.running = running.into_iter().collect();
                return Ended::Stalled(stalled);
            }
        }
    }
    Ended::Exited(matches!(child.wait(), Ok(status) if status.success()))
}

/// `test NAME has been running for over 60 seconds` gives `NAME`.
fn long_running_test(line: &str) -> Option<&str> {
    line.strip_prefix("test ")?
        .strip_suffix(" has been running for over 60 seconds")
}

/// `test NAME ... ok` (or `FAILED`, `ignored`, with ` - should panic`) gives `NAME`.
fn finished_test(line: &str) -> Option<&str> {
    let (name, _) = line.strip_prefix("test ")?.split_once(" ... ")?;
    Some(name.strip_suffix(" - should panic").unwrap_or(name))
}

/// Kills `pid` and every process under it (Linux: the parent links in `/proc`; elsewhere only
/// `pid` itself is killed, by the caller). Collected before killing anything, so that children
/// are not first re-parented away from the tree.
fn kill_tree(pid: u32) {
    for _ in 0..2 {
        let tree = descendants(pid);
        for &p in tree.iter().rev() {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `pid` and its descendants, parents before children.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // `/proc/PID/stat`: `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some((_, after)) = stat.rsplit_once(')') else {
                continue;
            };
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|&&(_, pp)| pp == parent)
                .map(|&(p, _)| p),
        );
        i += 1;
    }
    tree
}

#[cfg(test)]
mod tests;
