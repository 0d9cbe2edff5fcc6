//! `#[should_panic(expected = …)]` checks the message the test body really gave, on every
//! backend, the double-precision one (whose tests run in a child process) included: a test
//! whose expected message is wrong fails.

use burn::tensor::backend::AutodiffBackend;
use ltc_testing::backend_tests;

fn panics_with_the_real_message<B: AutodiffBackend>(_device: &B::Device) {
    panic!("the real message");
}

/// The right expectation passes on every backend.
mod right {
    use super::panics_with_the_real_message;
    ltc_testing::backend_tests! {
        #[should_panic(expected = "the real message")]
        panics_with_the_real_message,
    }
}

/// A wrong expectation, run only by the checks below (ignored in the suite).
mod wrong {
    use super::panics_with_the_real_message;
    ltc_testing::backend_tests! {
        #[ignore = "run by the checks below, which expect it to fail"]
        #[should_panic(expected = "a wrong message")]
        panics_with_the_real_message,
    }
}

/// Runs `wrong::<backend>::panics_with_the_real_message` in a child process and asserts that it
/// fails because the panic did not contain the expected text.
fn a_wrong_expected_message_fails(backend: &str) {
    let test = format!("wrong::{backend}::panics_with_the_real_message");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test.as_str(), "--exact", "--ignored"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("running 1 test"),
        "{test} did not run:\n{stdout}"
    );
    assert!(
        !output.status.success()
            && stdout.contains(&format!("test {test} - should panic ... FAILED")),
        "{test} passed although its expected message is wrong:\n{stdout}"
    );
    assert!(
        stdout.contains("panic did not contain expected string")
            && stdout.contains("the real message"),
        "{test} failed for another reason:\n{stdout}"
    );
}

/// One check per backend, named so that `cargo xtask test --backend …` runs each with its own.
mod backend_ndarray {
    #[test]
    fn a_wrong_expected_message_fails() {
        super::a_wrong_expected_message_fails("backend_ndarray");
    }
}

mod backend_ndarray_f64 {
    #[test]
    fn a_wrong_expected_message_fails() {
        super::a_wrong_expected_message_fails("backend_ndarray_f64");
    }
}

mod backend_wgpu {
    #[test]
    fn a_wrong_expected_message_fails() {
        super::a_wrong_expected_message_fails("backend_wgpu");
    }
}

#[allow(unused_imports)]
use backend_tests as _;
