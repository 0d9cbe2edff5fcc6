use super::*;

/// The stall limit of these tests: every silence they mean to survive is at most 0.4 s (a 5×
/// margin on a loaded 2-core machine), every one they mean to catch is 2.5× the limit or more.
const LIMIT: Duration = Duration::from_secs(2);

#[test]
fn reads_libtest_progress_lines() {
    assert_eq!(
        long_running_test("test a::b has been running for over 60 seconds"),
        Some("a::b")
    );
    assert_eq!(finished_test("test a::b ... ok"), Some("a::b"));
    assert_eq!(
        finished_test("test a::c - should panic ... FAILED"),
        Some("a::c")
    );
    assert_eq!(long_running_test("test result: ok. 1 passed"), None);
    assert_eq!(finished_test("running 3 tests"), None);
}

#[test]
fn a_silent_command_is_killed_with_its_children_and_reported() {
    // A shell that announces a long test, finishes another, then hangs in a grandchild that
    // writes its pid down.
    let pid_file = std::env::temp_dir().join(format!("xtask-watch-{}", std::process::id()));
    let script = format!(
        "echo '     Running tests/hang.rs (target/debug/deps/hang-0)' >&2; sleep 0.1; \
         echo 'test slow has been running for over 60 seconds'; \
         echo 'test quick has been running for over 60 seconds'; \
         echo 'test quick ... ok'; \
         sh -c 'echo $$ > {}; exec sleep 300' & wait",
        pid_file.display()
    );
    let mut lines = Vec::new();
    let start = std::time::Instant::now();
    let ended = run_watched(Command::new("sh").args(["-c", &script]), LIMIT, |line| {
        lines.push(line.to_string())
    });
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "not killed in time"
    );
    let Ended::Stalled(stall) = ended else {
        panic!("not reported as stalled: {ended:?}");
    };
    assert_eq!(stall.running, vec!["slow".to_string()]);
    assert_eq!(
        stall.binary.as_deref(),
        Some("tests/hang.rs (target/debug/deps/hang-0)")
    );
    assert_eq!(lines.len(), 3);
    let report = stall.report("cargo test", Duration::from_secs(20 * 60));
    assert!(
        report.contains("printed nothing for 20 minutes"),
        "{report}"
    );
    assert!(report.contains("still running: slow"), "{report}");
    // The sleeping grandchild was killed too: gone, or a zombie nobody reaped yet.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let _ = std::fs::remove_file(&pid_file);
    std::thread::sleep(Duration::from_millis(200));
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        let state = stat.rsplit_once(')').unwrap().1.split_whitespace().next();
        assert_eq!(state, Some("Z"), "the grandchild {} still runs", pid.trim());
    }
}

#[test]
fn the_build_before_the_first_test_binary_is_not_timed() {
    // Silent for 2.5 times the limit while "compiling", then tests that keep talking.
    let ended = run_watched(
        Command::new("sh").args([
            "-c",
            "echo '   Compiling big v0.1.0' >&2; sleep 5; \
             echo '     Running unittests src/lib.rs (deps/big-0)' >&2; \
             echo 'test a ... ok'; sleep 0.3; echo 'test b ... ok'",
        ]),
        LIMIT,
        |_| {},
    );
    assert_eq!(ended, Ended::Exited(true));
}

#[test]
fn output_on_either_stream_keeps_a_command_alive() {
    let ended = run_watched(
        Command::new("sh").args([
            "-c",
            "echo '     Running tests/a.rs (deps/a-0)' >&2; \
             for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; echo e$i >&2; sleep 0.2; done",
        ]),
        LIMIT,
        |_| {},
    );
    assert_eq!(ended, Ended::Exited(true));
    let ended = run_watched(
        Command::new("sh").args(["-c", "exit 3"]),
        Duration::from_secs(5),
        |_| {},
    );
    assert_eq!(ended, Ended::Exited(false));
}

#[test]
fn the_limit_is_whole_minutes_or_the_default() {
    let minutes = |v| parse_stall_minutes(v).map(|d| d.as_secs() / 60);
    assert_eq!(minutes(None), Ok(DEFAULT_STALL_MINUTES));
    assert_eq!(minutes(Some(" 45 ")), Ok(45));
    for bad in ["0", "-3", "1.5", "ten", ""] {
        let err = minutes(Some(bad)).unwrap_err();
        assert!(
            err.contains(&format!("XTASK_STALL_MINUTES={bad:?}")),
            "{err}"
        );
        assert!(err.contains("positive whole number of minutes"), "{err}");
    }
}
