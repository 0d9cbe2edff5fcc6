//! A seeded test gives the same numbers alone and in the suite: `ltc_testing::seed` keeps Burn's
//! process-wide generator to the seeded test until it ends, so other tests drawing at the same
//! time cannot take numbers out of its stream.

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use ltc_testing::{draws, seed, values};
use ltc_wirings::AutoNcp;

use crate::ltc::LtcConfig;

type B = NdArray<f32>;

/// The weights and one output of a seeded LTC, drawn and run under a seeded claim.
fn seeded_numbers() -> Vec<f64> {
    let device = Default::default();
    let _claim = draws();
    seed::<B>(&device, 99);
    let ltc = LtcConfig::from_wiring(AutoNcp::new(8, 2).build(3).unwrap())
        .init::<B>(&device)
        .unwrap();
    let x = Tensor::<B, 3>::random([2, 5, 3], Distribution::Normal(0.0, 1.0), &device);
    let mut out = values(ltc.cell.w.value());
    out.extend(values(ltc.forward(x, None, None).0));
    out
}

/// The numbers of the run alone, printed for the parent below.
#[test]
#[ignore = "run by seeded_numbers_are_the_same_alone_and_in_the_suite, in a process of its own"]
fn print_seeded_numbers() {
    println!("NUMBERS {:?}", seeded_numbers());
}

/// The seeded draw here, while other threads draw from the same generator as fast as they can
/// (as other tests would), against the same draw in a process that runs nothing else.
#[test]
fn seeded_numbers_are_the_same_alone_and_in_the_suite() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let device = Default::default();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _claim = draws();
                    let _ = Tensor::<B, 1>::random([64], Distribution::Default, &device);
                }
            })
        })
        .collect();
    let in_suite = seeded_numbers();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for thread in noise {
        thread.join().unwrap();
    }

    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "tests::determinism::print_seeded_numbers",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let alone = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NUMBERS "))
        .unwrap_or_else(|| panic!("the child printed no numbers:\n{stdout}"));
    assert_eq!(
        alone,
        format!("{in_suite:?}"),
        "the seeded numbers differ between the suite and a run alone"
    );
}
