//! Test support for the workspace: one test body, every backend.
//!
//! Tests are generic functions `fn name<B: AutodiffBackend>(device: &B::Device)`; the
//! [`backend_tests!`] macro instantiates each of them once per backend, in one build, as
//! `…::backend_<name>::<test>`. `cargo xtask test --backend <name>` selects a backend by that
//! module name. Adding a backend is one line in the macro below.
//!
//! **Determinism.** Burn's random generator is one per process, shared by the tests that run
//! in parallel, so a test that seeds it and then draws weights would get different numbers
//! whenever another test drew at the same time. Every instantiated test therefore holds a
//! shared claim on the generator ([`draws`]) while it runs, and a test that needs its own
//! numbers calls [`seed`], which waits until no other test runs and keeps the generator to
//! itself until it ends: the same seeded test gives the same numbers alone or in the suite.
//!
//! **Own processes.** The double-precision instantiations run in a child process each
//! ([`in_own_process`]); the parent passes and fails as the child did, and a panic in the child
//! reaches the parent as the child's own message, so `#[should_panic(expected = …)]` checks the
//! real message on every backend.

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

/// The line a child process prints before it re-raises its test body's panic: the marker, then
/// the panic message as hex (one line whatever the message holds).
const PANIC_MARKER: &str = "ltc-testing: the test body panicked: ";

/// A panic payload's message (`panic!` with a `&str` or a formatted `String`).
fn panic_message(payload: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

/// The child's panic message, from the last marker line of its output.
fn child_panic(stdout: &str) -> Option<String> {
    let hex = stdout
        .lines()
        .rev()
        .find_map(|l| Some(&l[l.find(PANIC_MARKER)? + PANIC_MARKER.len()..]))?;
    let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// Runs `body` in a child process made of this test binary filtered to this one test, unless
/// this already is that child. When the body panics in the child, the parent panics with the
/// child's own panic message (so a `#[should_panic(expected = …)]` test checks the message the
/// body really gave); when the child fails otherwise, the parent panics saying so; when the
/// child passes without a panic, so does the parent.
pub fn in_own_process(module: &str, name: &str, body: impl FnOnce()) {
    const CHILD: &str = "LTC_BURN_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        if let Err(payload) = result {
            let hex: String = panic_message(payload.as_ref())
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect();
            // On a line of its own: libtest has printed `test … ... ` before the body ran.
            println!("\n{PANIC_MARKER}{hex}");
            std::panic::resume_unwind(payload);
        }
        return;
    }
    // `crate::a::b` → `a::b::name`, the test's name inside its binary.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let test = format!("{module}::{name}");
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([
            test.as_str(),
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("cannot re-run the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("running 1 test"),
        "the child process did not run `{test}`:\n{stdout}\n{stderr}"
    );
    // Only the body's own message: the child's libtest output quotes the `expected` text of a
    // `should_panic` test, which would make any message match.
    if let Some(message) = child_panic(&stdout) {
        eprintln!("`{test}` in its own process:\n{stderr}");
        panic!("{message}");
    }
    if !output.status.success() {
        panic!(
            "`{test}` failed in its own process without a panic in its body ({}); its \
             stderr:\n{stderr}",
            output.status
        );
    }
}

/// How the test threads of this process share Burn's generator.
#[derive(Default)]
struct Generator {
    /// Tests drawing without a seed.
    shared: usize,
    /// A seeded test holds the generator.
    exclusive: bool,
    /// Seeded tests waiting for it.
    waiting: usize,
}

/// What this thread holds of the generator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    Nothing,
    Shared,
    Exclusive,
}

static GENERATOR: std::sync::Mutex<Generator> = std::sync::Mutex::new(Generator {
    shared: 0,
    exclusive: false,
    waiting: 0,
});
static GENERATOR_CHANGED: std::sync::Condvar = std::sync::Condvar::new();

thread_local! {
    static HELD: core::cell::Cell<Held> = const { core::cell::Cell::new(Held::Nothing) };
}

fn generator() -> std::sync::MutexGuard<'static, Generator> {
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A test's claim on Burn's generator (see the [module](self)), released when dropped.
#[must_use = "the claim lasts as long as the guard"]
pub struct Draws(());

/// Claims Burn's generator for this test alongside the other unseeded tests, waiting while a
/// seeded test holds it. [`backend_tests!`] takes it for every test; a plain `#[test]` that
/// draws random numbers, or seeds with [`seed`], takes it first.
pub fn draws() -> Draws {
    let mut g = generator();
    while g.exclusive || g.waiting > 0 {
        g = GENERATOR_CHANGED
            .wait(g)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    g.shared += 1;
    HELD.with(|h| h.set(Held::Shared));
    Draws(())
}

impl Drop for Draws {
    fn drop(&mut self) {
        let mut g = generator();
        match HELD.with(|h| h.replace(Held::Nothing)) {
            Held::Shared => g.shared -= 1,
            Held::Exclusive => g.exclusive = false,
            Held::Nothing => {}
        }
        GENERATOR_CHANGED.notify_all();
    }
}

/// Seeds Burn's generator for `device`'s backend, after waiting until no other test of this
/// process runs; until this test ends no other test starts, so every number it draws comes
/// from `seed` alone.
///
/// # Panics
/// Outside a claim ([`draws`], which [`backend_tests!`] takes for every test).
#[track_caller]
pub fn seed<B: Backend>(device: &B::Device, seed: u64) {
    match HELD.with(core::cell::Cell::get) {
        Held::Exclusive => {}
        Held::Nothing => panic!(
            "ltc_testing::seed outside a test's claim on the generator: call it in a \
             backend_tests! test, or take ltc_testing::draws() first"
        ),
        Held::Shared => {
            let mut g = generator();
            g.shared -= 1;
            g.waiting += 1;
            while g.exclusive || g.shared > 0 {
                g = GENERATOR_CHANGED
                    .wait(g)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            g.waiting -= 1;
            g.exclusive = true;
            HELD.with(|h| h.set(Held::Exclusive));
        }
    }
    B::seed(device, seed);
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
                    let _draws = $crate::draws();
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
