use super::*;
use burn::backend::NdArray;
use burn::tensor::TensorData;

#[test]
fn softplus_is_stable_and_exact() {
    // f64 on ndarray: in a process of its own (see the ltc-testing crate).
    ltc_testing::in_own_process(
        module_path!(),
        "softplus_is_stable_and_exact",
        softplus_is_stable_and_exact_f64,
    );
}

fn softplus_is_stable_and_exact_f64() {
    let device = Default::default();
    let x = Tensor::<NdArray<f64>, 1>::from_data(
        TensorData::from([-800.0, -3.0, 0.0, 2.0, 800.0]),
        &device,
    );
    let y: Vec<f64> = softplus(x).into_data().to_vec().unwrap();
    let expected = [
        0.0,
        (1.0 + (-3.0f64).exp()).ln(),
        2f64.ln(),
        (1.0 + 2f64.exp()).ln(),
        800.0,
    ];
    for (got, want) in y.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}

#[test]
fn sigmoid_is_exact_in_f64_and_finite_everywhere() {
    ltc_testing::in_own_process(
        module_path!(),
        "sigmoid_is_exact_in_f64_and_finite_everywhere",
        sigmoid_f64,
    );
}

fn sigmoid_f64() {
    use burn::backend::Autodiff;
    type A = Autodiff<NdArray<f64>>;
    let device = Default::default();
    let xs: [f64; 7] = [-1000.0, -30.0, -2.5, 0.0, 0.7, 9.0, 1000.0];
    let x = Tensor::<A, 1>::from_data(TensorData::from(xs), &device).require_grad();
    let y = sigmoid(x.clone());
    let grads = y.clone().sum().backward();
    let y: Vec<f64> = y.into_data().to_vec().unwrap();
    let dy: Vec<f64> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
    for ((x, y), dy) in xs.iter().zip(&y).zip(&dy) {
        // Inputs below −80 are clamped there: σ(−80) ≈ 1.8e-35 stands for 0.
        let want = 1.0 / (1.0 + (-x.max(-80.0)).exp());
        // σ' = e^(−x) / (1 + e^(−x))², exactly 0 where the input was clamped.
        let want_dy = if *x < -80.0 {
            0.0
        } else {
            (-x).exp() / (1.0 + (-x).exp()).powi(2)
        };
        assert!(
            (y - want).abs() <= 1e-15 * want.max(1e-300),
            "σ({x}) = {y}, want {want}"
        );
        assert!(
            (dy - want_dy).abs() <= 1e-14 * want_dy,
            "σ'({x}) = {dy}, want {want_dy}"
        );
    }
}

#[test]
fn inverse_softplus_inverts_softplus() {
    ltc_testing::in_own_process(
        module_path!(),
        "inverse_softplus_inverts_softplus",
        inverse_softplus_inverts_softplus_f64,
    );
}

fn inverse_softplus_inverts_softplus_f64() {
    let device = Default::default();
    let ys: [f64; 8] = [1e-3, 0.3, 0.5, 1.0, 4.0, 7.0, 30.0, 50.0];
    let t = Tensor::<NdArray<f64>, 1>::from_data(TensorData::from(ys), &device);
    let x: Vec<f64> = inverse_softplus(t.clone()).into_data().to_vec().unwrap();
    let back: Vec<f64> = softplus(inverse_softplus(t)).into_data().to_vec().unwrap();
    for ((y, x), back) in ys.iter().zip(&x).zip(&back) {
        let formula = y + (-(-y).exp()).ln_1p(); // ln(e^y − 1), stably
        assert!(
            (x - formula).abs() < 1e-12 * formula.abs().max(1.0),
            "{y}: {x} vs {formula}"
        );
        assert!(
            (back - y).abs() < 1e-12 * y.max(1.0),
            "{y} -> {x} -> {back}"
        );
    }
}
