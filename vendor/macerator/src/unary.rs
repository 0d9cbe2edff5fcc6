use half::f16;
use paste::paste;

use crate::{Scalar, Simd, Vector};

pub trait VRecip: Scalar {
    fn vrecip<S: Simd>(input: Vector<S, Self>) -> Vector<S, Self>;
    fn is_accelerated<S: Simd>() -> bool;
}

impl<S: Simd, T: VRecip> Vector<S, T> {
    #[inline(always)]
    pub fn recip(self) -> Self {
        T::vrecip(self)
    }
}

pub trait VAbs: Scalar {
    fn vabs<S: Simd>(input: Vector<S, Self>) -> Vector<S, Self>;
    fn is_accelerated<S: Simd>() -> bool;
}

impl<S: Simd, T: VAbs> Vector<S, T> {
    #[inline(always)]
    pub fn abs(self) -> Self {
        T::vabs(self)
    }
}

macro_rules! impl_unop {
    ($trait: ident, $name: ident, $($ty: ty),*) => {
        $(paste! {
            impl $trait for $ty {
                #[inline(always)]
                fn [<$trait:lower>]<S: Simd>(input: Vector<S, Self>) -> Vector<S, Self> {
                    S::typed(S::[<$name _ $ty>](*input))
                }
                #[inline(always)]
                fn is_accelerated<S: Simd>() -> bool {
                    S::[<$name _ $ty _supported>]()
                }
            }
        })*
    };
}

impl_unop!(VRecip, recip, f16);

// ltc-burn patch (see PATCHED.md): `recip` of f32 and f64 is the correctly rounded `1 / x`, a
// vector division, as the scalar fallback computes it. Upstream 0.3.4 returned the hardware
// estimate (`rcp_ps` on AVX/AVX2, relative error up to 1.5 * 2^-12; `rcp14` on AVX-512, 2^-14,
// f64 included; `vrecpe` on NEON, about 2^-8), so values in a vector differed from those of the
// scalar head and tail, and which elements took which path depended on the buffer's address.
macro_rules! impl_exact_recip {
    ($($ty: ty),*) => {
        $(impl VRecip for $ty {
            #[inline(always)]
            fn vrecip<S: Simd>(input: Vector<S, Self>) -> Vector<S, Self> {
                (1.0 as $ty).splat::<S>() / input
            }
            #[inline(always)]
            fn is_accelerated<S: Simd>() -> bool {
                <$ty as crate::VDiv>::is_accelerated::<S>()
            }
        })*
    };
}

impl_exact_recip!(f32, f64);
impl_unop!(VAbs, abs, i8, i16, f16, i32, f32, f64);
