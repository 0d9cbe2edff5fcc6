use super::*;
use burn::tensor::backend::AutodiffBackend;
use ltc_testing::{backend_tests, values};
use ltc_wirings::Random;

fn tensors_hold_the_wiring<B: AutodiffBackend>(device: &B::Device) {
    let wiring = Random {
        units: 5,
        output_dim: 2,
        sparsity: 0.4,
        seed: 3,
    }
    .build(3)
    .unwrap();
    let as_f64 = |v: &[i8]| v.iter().map(|&p| f64::from(p)).collect::<Vec<_>>();
    let abs = |v: &[i8]| v.iter().map(|&p| f64::from(p.abs())).collect::<Vec<_>>();
    let erev_t = erev::<B>(&wiring, device);
    assert_eq!(erev_t.dims(), [5, 5]);
    assert_eq!(values(erev_t), as_f64(wiring.adjacency()));
    assert_eq!(values(mask::<B>(&wiring, device)), abs(wiring.adjacency()));
    let sensory = sensory_erev::<B>(&wiring, device);
    assert_eq!(sensory.dims(), [3, 5]);
    assert_eq!(values(sensory), as_f64(wiring.sensory_adjacency()));
    assert_eq!(
        values(sensory_mask::<B>(&wiring, device)),
        abs(wiring.sensory_adjacency())
    );
}

backend_tests! {
    tensors_hold_the_wiring,
}
