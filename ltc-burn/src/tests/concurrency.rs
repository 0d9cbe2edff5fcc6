//! Deadlocks: threads training at once, each on its own compute pool.

use crate::kernel::on_compute_pool;
use burn::backend::{Autodiff, NdArray};

/// Two threads training at once (as in a test binary, a hyper-parameter sweep or
/// burn-train's multi-device strategy), each step wrapped in `on_compute_pool`: an LTC
/// whose fused backward runs in parallel while Burn holds its graph's lock, and a CfC. With
/// one shared pool, a worker waiting inside the LTC backward could pick up the other
/// thread's whole step, whose autodiff clean-up then waits for the first graph's lock —
/// held lower on the same worker's stack: a deadlock (seen in CI). Fails after five minutes
/// rather than hanging: the steps take a few seconds in all, on a loaded 2-core machine too.
#[test]
fn concurrent_training_steps_do_not_deadlock() {
    use crate::cfc::CfcConfig;
    use crate::ltc::LtcConfig;
    use burn::tensor::Tensor;
    use ltc_wirings::FullyConnected;
    type B = Autodiff<NdArray<f32>>;
    const STEPS: usize = 150;

    let (done, finished) = std::sync::mpsc::channel();
    let ltc_done = done.clone();
    std::thread::spawn(move || {
        let device = Default::default();
        let wiring = FullyConnected::new(8).build(3).unwrap();
        let ltc = LtcConfig::from_wiring(wiring).init::<B>(&device).unwrap();
        // Batch 64: the fused backward splits it into parallel groups.
        let x = Tensor::<B, 3>::ones([64, 6, 3], &device);
        for _ in 0..STEPS {
            on_compute_pool::<B, _>(|| {
                let (y, _) = ltc.forward(x.clone(), None, None);
                y.sum().backward()
            });
        }
        ltc_done.send("LTC").unwrap();
    });
    std::thread::spawn(move || {
        let device = Default::default();
        let cfc = CfcConfig::from_sizes(3, 8).init::<B>(&device).unwrap();
        let x = Tensor::<B, 3>::ones([16, 6, 3], &device);
        for _ in 0..STEPS {
            on_compute_pool::<B, _>(|| {
                let (y, _) = cfc.forward(x.clone(), None, None);
                y.sum().backward()
            });
        }
        done.send("CfC").unwrap();
    });
    for _ in 0..2 {
        let timeout = std::time::Duration::from_secs(300);
        let who = finished.recv_timeout(timeout);
        assert!(
            who.is_ok(),
            "two threads training at once did not finish {STEPS} steps in five minutes: \
             deadlocked"
        );
    }
}
