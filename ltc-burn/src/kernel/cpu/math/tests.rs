//! `exp_f32` against `f64::exp`.

use super::exp_f32;

#[test]
fn exp_f32_is_within_two_ulp() {
    let mut worst = 0.0f64;
    let mut x = -87.0f64;
    while x <= 80.0 {
        let ours = f64::from(exp_f32(x as f32));
        let exact = (x as f32 as f64).exp();
        worst = worst.max((ours - exact).abs() / exact);
        x += 0.0137;
    }
    assert!(worst < 2.5e-7, "largest relative error {worst:e}");
    assert!(exp_f32(-100.0) < 1.3e-38 && exp_f32(-100.0) > 0.0);
    assert_eq!(exp_f32(0.0), 1.0);
}
