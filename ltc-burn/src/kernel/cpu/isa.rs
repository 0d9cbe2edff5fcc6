//! Which compiled copy of a CPU kernel's loops runs: chosen once per process, dispatched in one
//! place (`per_isa!`).
//!
//! A kernel's per-sample work is written once, as an `#[inline(always)]` function generic over
//! the float and over [`MulAdd`](super::MulAdd); `per_isa!` makes from it a function that runs
//! it from a copy compiled for AVX-512 or AVX2 (with FMA) when this CPU has them, so that its
//! loops are vectorised for those registers, and from the baseline build otherwise.

/// Which compiled copy of the per-sample loops this CPU runs: AVX-512 (16 f32 lanes) or AVX2
/// (8 lanes), both with FMA, or the baseline build (SSE2 on x86-64). Checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F + FMA.
    Avx512,
    /// AVX2 + FMA.
    Avx2,
    /// What the crate is compiled for, with separate multiplies and adds.
    Baseline,
}

impl Isa {
    /// Every instruction set this CPU can run the kernels with, best first.
    pub fn supported() -> Vec<Isa> {
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("fma") {
            if std::is_x86_feature_detected!("avx512f") {
                all.push(Isa::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") {
                all.push(Isa::Avx2);
            }
        }
        all.push(Isa::Baseline);
        all
    }

    /// Panics unless this CPU supports `self`.
    ///
    /// # Panics
    /// Naming the instruction set, when [`Isa::supported`] does not list it.
    #[track_caller]
    pub fn assert_supported(self) {
        assert!(
            Isa::supported().contains(&self),
            "CPU kernels: this CPU does not support {self:?}"
        );
    }
}

/// The [`Isa`] the kernels use on this CPU: the best it supports, or a lower one named by
/// `LTC_BURN_ISA=baseline|avx2` (for comparisons).
pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let supported = Isa::supported();
        let wanted = match std::env::var("LTC_BURN_ISA").as_deref() {
            Ok("baseline") => Some(Isa::Baseline),
            Ok("avx2") => Some(Isa::Avx2),
            _ => None,
        };
        wanted
            .filter(|w| supported.contains(w))
            .unwrap_or(supported[0])
    })
}

/// Defines `fn NAME<F: Real>(isa: Isa, ARGS)`, which runs `WORK::<F, M>(ARGS)` in the copy
/// compiled for `isa` (one this CPU supports: [`isa()`], or one checked with
/// [`Isa::assert_supported`]), `M` being [`Fused`](super::Fused) in the AVX copies and
/// [`Separate`](super::Separate) in the baseline one. `WORK` and all it calls must be
/// `#[inline(always)]`, so that its loops are compiled inside each copy.
///
/// The copies take the work's arguments as their own parameters (not gathered in a struct):
/// references that are parameters are known not to alias, which the vectorised loops need
/// (gathered in a struct, the same loops executed 7–8 % more instructions in the LTC backward
/// and step under callgrind: BENCHMARKS.md).
macro_rules! per_isa {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident = $work:ident($($arg:ident: $ty:ty),* $(,)?);
    ) => {
        $(#[$attr])*
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<F: $crate::kernel::cpu::Real>(
            isa: $crate::kernel::cpu::Isa,
            $($arg: $ty),*
        ) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn avx512<F: $crate::kernel::cpu::Real>($($arg: $ty),*) {
                $work::<F, $crate::kernel::cpu::Fused>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn avx2<F: $crate::kernel::cpu::Real>($($arg: $ty),*) {
                $work::<F, $crate::kernel::cpu::Fused>($($arg),*)
            }

            // SAFETY (both): `isa` is supported by this CPU (it comes from `isa()` or was
            // checked with `Isa::assert_supported`), so it has the features these copies are
            // compiled for.
            #[allow(unsafe_code)]
            match isa {
                #[cfg(target_arch = "x86_64")]
                $crate::kernel::cpu::Isa::Avx512 => unsafe { avx512::<F>($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::kernel::cpu::Isa::Avx2 => unsafe { avx2::<F>($($arg),*) },
                _ => $work::<F, $crate::kernel::cpu::Separate>($($arg),*),
            }
        }
    };
}
pub(crate) use per_isa;
