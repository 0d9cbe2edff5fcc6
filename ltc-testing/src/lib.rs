//! Test support for the workspace: one test body, every backend.
//!
//! Tests are generic functions `fn name<B: AutodiffBackend>(device: &B::Device)`; the
//! [`backend_tests!`] macro instantiates each of them once per backend, in one build, as
//! `…::backend_<name>::<test>`. `cargo xtask test --backend <name>` selects a backend by that
//! module name. Adding a backend is one line in the macro below.

#![warn(missing_docs)]

use burn::tensor::backend::Backend;

/// ndarray on the CPU, single precision (the embedded default).
pub type NdArrayF32 = burn::backend::Autodiff<burn::backend::NdArray<f32>>;
/// ndarray on the CPU, double precision: for tight numerical checks.
pub type NdArrayF64 = burn::backend::Autodiff<burn::backend::NdArray<f64>>;
/// wgpu (Vulkan; Mesa lavapipe on machines without a GPU), single precision.
pub type WgpuF32 = burn::backend::Autodiff<
    burn::backend::wgpu::CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>,
>;

/// The wgpu device used by tests. CubeCL does not list software adapters such as lavapipe as
/// available, so the device is named explicitly rather than enumerated.
pub fn wgpu_device() -> burn::backend::wgpu::WgpuDevice {
    burn::backend::wgpu::WgpuDevice::DefaultDevice
}

/// Panics unless this process's default float dtype for `device` is the backend's own.
///
/// Every instantiation of [`backend_tests!`] checks it first, so a test that used another
/// precision of the same device in a shared process (see the module docs) fails loudly instead
/// of running silently in the wrong precision; such a test must go through [`in_own_process`].
#[track_caller]
pub fn assert_default_float<B: Backend>(device: &B::Device) {
    let expected: burn::tensor::FloatDType =
        <B::FloatElem as burn::tensor::Element>::dtype().into();
    let actual = burn::tensor::get_device_settings::<B>(device).float_dtype;
    assert_eq!(
        actual, expected,
        "this process's default float dtype for the device is {actual:?}, not {expected:?}: a \
         test used another precision of the same device in this process; run it through \
         ltc_testing::in_own_process"
    );
}

/// Whether the backend computes in double precision (tolerances depend on it).
pub fn is_f64<B: Backend>() -> bool {
    core::mem::size_of::<B::FloatElem>() == 8
}

/// A tensor's values as `f64`, whatever the backend's float type.
pub fn values<B: Backend, const D: usize>(t: burn::tensor::Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
}

/// Every float parameter's gradient in `module`, in visiting order (empty where a parameter
/// has none).
pub fn param_grads<B: burn::tensor::backend::AutodiffBackend, M: burn::module::Module<B>>(
    module: &M,
    grads: &B::Gradients,
) -> Vec<Vec<f64>> {
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Grads<'a, B: burn::tensor::backend::AutodiffBackend> {
        grads: &'a B::Gradients,
        out: Vec<Vec<f64>>,
    }
    impl<B: burn::tensor::backend::AutodiffBackend> ModuleVisitor<B> for Grads<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.out
                .push(param.grad(self.grads).map(values).unwrap_or_default());
        }
    }
    let mut visitor = Grads::<B> {
        grads,
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

/// A tensor of the backend's float type from `f64` values.
pub fn tensor<B: Backend, const D: usize>(
    v: &[f64],
    shape: [usize; D],
    device: &B::Device,
) -> burn::tensor::Tensor<B, D> {
    let data = burn::tensor::TensorData::new(v.to_vec(), shape).convert::<B::FloatElem>();
    burn::tensor::Tensor::from_data(data, device)
}

/// Deterministic pseudo-random numbers in `[lo, hi)` (an LCG per call: no generator state is
/// shared between tests, so each test's inputs do not depend on which tests ran before).
pub fn numbers(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// A small seedable generator (splitmix64) for test data and random cases: the same sequence
/// on every machine, no dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next number, uniform in `[0, 1)`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `len` numbers uniform in `[lo, hi)`.
    pub fn uniform(&mut self, len: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..len).map(|_| lo + (hi - lo) * self.next()).collect()
    }

    /// A whole number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next() * n as f64) as usize).min(n - 1)
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// A fresh, empty temporary folder unique to this process, test and backend.
pub fn test_dir<B: Backend>(test: &str) -> std::path::PathBuf {
    let backend: String = core::any::type_name::<B>()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let dir = std::env::temp_dir()
        .join(format!("ltc-burn-tests-{}", std::process::id()))
        .join(format!("{test}-{backend}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create a temporary test folder");
    dir
}

/// Absolute-plus-relative closeness with a message naming the first offending index.
#[track_caller]
pub fn assert_close(what: &str, got: &[f64], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = atol + rtol * w.abs();
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (|Δ| = {:.3e} > {tol:.3e})",
            (g - w).abs()
        );
    }
}

/// Runs `body` in a child process made of this test binary filtered to this one test, unless
/// this already is that child. A failure or panic of the child (including the expected panic of
/// a `#[should_panic]` test) is re-raised here with the child's output, so the parent test
/// passes and fails exactly as the child did.
pub fn in_own_process(module: &str, name: &str, body: impl FnOnce()) {
    const CHILD: &str = "LTC_BURN_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return body();
    }
    // `crate::a::b` → `a::b::name`, the test's name inside its binary.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let test = format!("{module}::{name}");
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("cannot re-run the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("running 1 test"),
        "the child process did not run `{test}`:\n{stdout}\n{stderr}"
    );
    if !output.status.success() || stdout.contains("- should panic ... ok") {
        panic!("`{test}` in its own process:\n{stderr}\n{stdout}");
    }
}

/// Instantiates generic tests for every backend.
///
/// ```text
/// backend_tests! {
///     hand_computed_forward,
///     #[should_panic(expected = "must have shape")]
///     rejects_wrong_width,
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        $crate::backend_tests!(@one backend_ndarray, NdArrayF32, Default::default(), shared; $($(#[$meta])* $name),*);
        $crate::backend_tests!(@one backend_ndarray_f64, NdArrayF64, Default::default(), own_process; $($(#[$meta])* $name),*);
        $crate::backend_tests!(@one backend_wgpu, WgpuF32, $crate::wgpu_device(), shared; $($(#[$meta])* $name),*);
    };
    (@one $module:ident, $backend:ident, $device:expr, $process:ident; $($(#[$meta:meta])* $name:ident),*) => {
        mod $module {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    $crate::backend_tests!(@run $process, stringify!($name), {
                        let device = $device;
                        $crate::assert_default_float::<$crate::$backend>(&device);
                        super::$name::<$crate::$backend>(&device);
                    });
                }
            )*
        }
    };
    (@run shared, $name:expr, $body:block) => { $body };
    (@run own_process, $name:expr, $body:block) => {
        $crate::in_own_process(module_path!(), $name, || $body)
    };
}

/// Instantiates generic tests for the double-precision backend only, each in its own process,
/// as `…::f64_only::<test>`: for numerical-analysis tests whose tolerances single precision
/// cannot meet (solver orders, finite differences). They are not backend-generic (`cargo xtask
/// test` does not expect them on every backend); every backend still runs the smoke tests of
/// [`backend_tests!`].
#[macro_export]
macro_rules! f64_tests {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        $crate::backend_tests!(@one f64_only, NdArrayF64, Default::default(), own_process; $($(#[$meta])* $name),*);
    };
}
