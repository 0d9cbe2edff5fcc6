//! Each measurement in a fresh process, so that thread pools and peak memory are per
//! measurement, as the peer's are: the child prints one `RESULT {json}` line.

use std::process::Command;

use serde_json::Value;

use crate::measure::Workload;

/// The line a measuring child prints its result on.
pub const RESULT: &str = "RESULT ";

/// The arguments that give a child the workload, for ours and the peer's workers alike.
pub fn workload_args(work: Workload) -> Vec<String> {
    [
        ("--iters", work.iters),
        ("--warmup", work.warmup),
        ("--batch", work.batch),
        ("--seq", work.seq),
    ]
    .into_iter()
    .flat_map(|(flag, n)| [flag.to_string(), n.to_string()])
    .collect()
}

/// Limits the child's rayon and matrixmultiply threads (0: their default).
pub fn with_threads(cmd: &mut Command, threads: usize) -> &mut Command {
    if threads > 0 {
        cmd.env("RAYON_NUM_THREADS", threads.to_string())
            .env("MATMUL_NUM_THREADS", threads.to_string());
    }
    cmd
}

/// Runs one measurement in a child process and returns its result.
///
/// # Errors
/// When the child cannot start or prints no result, with its output.
pub fn spawn(cmd: &mut Command) -> Result<Value, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT))
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            format!(
                "{cmd:?} gave no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}
