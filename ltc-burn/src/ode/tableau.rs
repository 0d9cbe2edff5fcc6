//! Explicit Runge–Kutta methods as data: a Butcher tableau per solver, run by one engine.

use burn::config::Config;

/// An explicit Runge–Kutta method: `k_i = f(t + c_i·h, y + h·Σ_{j<i} a_ij·k_j)`,
/// `y' = y + h·Σ b_i·k_i`.
///
/// The tableau alone decides the method; the engine in [`solve`](super::solve) runs any of them.
/// Invariants (a unit test checks them for every solver): `Σ_j a_ij = c_i`, `Σ b_i = 1`,
/// `Σ b_err_i = 0`, `Σ b_mid_i = 1/2`, and for FSAL methods the last row of `a` equals `b`
/// with `c = 1`, so the last stage is `f(t + h, y')`: the next step's first stage.
#[derive(Debug, PartialEq)]
pub struct ButcherTableau {
    /// Stage times as fractions of the step, `c[0] = 0`.
    pub c: &'static [f64],
    /// The strictly lower-triangular stage matrix, row `i` has `i` entries.
    pub a: &'static [&'static [f64]],
    /// Solution weights.
    pub b: &'static [f64],
    /// Error weights `b − b̂` (solution minus embedded lower-order weights), for adaptive
    /// methods.
    pub b_err: Option<&'static [f64]>,
    /// Weights of `y(t + h/2) = y + h·Σ b_mid_i·k_i`, for the quartic dense output (fixed-step
    /// methods without them interpolate by cubic Hermite).
    pub b_mid: Option<&'static [f64]>,
    /// The order of the solution.
    pub order: u32,
    /// First-same-as-last: the last stage is the derivative at the step's end.
    pub fsal: bool,
}

impl ButcherTableau {
    /// Stages per step.
    pub fn stages(&self) -> usize {
        self.c.len()
    }
}

/// The solvers, each an explicit Runge–Kutta tableau.
///
/// Fixed-step methods need [`SolveOptions::dt`](super::SolveOptions::dt); adaptive ones control
/// their step by the embedded error estimate, or run at a constant step when `dt` is set.
///
/// | solver | order | stages (f-evals per step) | adaptive | dense output | source |
/// |---|---|---|---|---|---|
/// | `Euler` | 1 | 1 | no | cubic Hermite | |
/// | `Midpoint` | 2 | 2 | no | cubic Hermite | |
/// | `Heun` | 2 | 2 | no | cubic Hermite | Heun's trapezoidal method |
/// | `Rk4` | 4 | 4 | no | cubic Hermite | the classic RK4 |
/// | `Bosh3` | 3 (2) | 4 (3, FSAL) | yes | quartic | Bogacki & Shampine 1989 |
/// | `Dopri5` | 5 (4) | 7 (6, FSAL) | yes | quartic (Shampine 1986) | Dormand & Prince 1980, Shampine's error weights as torchdiffeq/diffrax |
/// | `Tsit5` | 5 (4) | 7 (6, FSAL) | yes | quartic through Tsitouras's interpolant at ½ | Tsitouras 2011 |
/// | `Radau5` | 5 (3) | 3 implicit (Newton) | yes | the collocation polynomial (cubic) | Radau IIA, Hairer & Wanner II §IV.8, as scipy's `Radau` |
///
/// `Radau5` is implicit and L-stable: the solver for stiff problems, where every explicit method
/// needs steps of the fastest time scale. See [`ode`](super) for what it supports.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Solver {
    /// Forward Euler.
    Euler,
    /// The explicit midpoint method.
    Midpoint,
    /// Heun's method (explicit trapezoid).
    Heun,
    /// The classic fourth-order Runge–Kutta method.
    Rk4,
    /// Bogacki–Shampine 3(2).
    Bosh3,
    /// Dormand–Prince 5(4), torchdiffeq's default (and ours).
    Dopri5,
    /// Tsitouras 5(4), diffrax's recommended default.
    Tsit5,
    /// Radau IIA of order 5, implicit and L-stable, for stiff problems: Newton iterations on a
    /// difference-quotient Jacobian, scipy's error estimate and step control, gradients by
    /// back-propagation through the implicit function theorem (exact for the discrete solve).
    /// Dense linear algebra: for states of up to a few hundred elements. Not for
    /// [`solve_event`](super::solve_event) or the checkpointed adjoint; the `Backsolve` adjoint
    /// runs, but re-solving a stiff state backwards in time is unstable — train stiff fields
    /// by back-propagation.
    ///
    /// Robertson's chemical kinetics, stiff from the start:
    ///
    /// ```
    /// use burn::backend::NdArray;
    /// use burn::tensor::Tensor;
    /// use ltc_burn::ode::{solve, OdeError, SolveOptions, Solver};
    /// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
    /// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
    ///
    /// let robertson = |_t: f64, y: Tensor<B, 2>| {
    ///     let [y1, y2, y3] = [0, 1, 2].map(|i| y.clone().narrow(1, i, 1));
    ///     let slow = y1.mul_scalar(0.04);
    ///     let fast = (y2.clone() * y3).mul_scalar(1e4);
    ///     let faster = y2.powi_scalar(2).mul_scalar(3e7);
    ///     Tensor::cat(vec![fast.clone() - slow.clone(), slow - fast - faster.clone(), faster], 1)
    /// };
    /// let y0 = || Tensor::<B, 2>::from_floats([[1.0, 0.0, 0.0]], &Default::default());
    /// let radau = SolveOptions::new().with_solver(Solver::Radau5).with_rtol(1e-5).with_atol(1e-9);
    /// let sol = solve(&robertson, y0(), 0.0, 1e3, &radau)?;
    /// let y: Vec<f64> = sol.last().into_data().convert::<f64>().to_vec().unwrap();
    /// assert!((y.iter().sum::<f64>() - 1.0).abs() < 1e-4, "mass is conserved: {y:?}");
    /// assert!(sol.stats.steps() < 200, "{:?}", sol.stats);
    /// // Dopri5 with 20× the steps does not get there.
    /// let dopri = SolveOptions::new().with_rtol(1e-5).with_atol(1e-9)
    ///     .with_max_steps(20 * sol.stats.steps());
    /// assert!(matches!(solve(&robertson, y0(), 0.0, 1e3, &dopri),
    ///     Err(OdeError::MaxStepsReached { .. })));
    /// # Ok::<(), OdeError>(())
    /// ```
    Radau5,
}

// Written out: `#[derive(Default)]` with `#[default]` does not pass through Burn's `Config` derive.
#[allow(clippy::derivable_impls)]
impl Default for Solver {
    fn default() -> Self {
        Solver::Dopri5
    }
}

impl Solver {
    /// Every solver, for tests and benchmarks that run over all of them.
    pub const ALL: [Solver; 8] = [
        Solver::Euler,
        Solver::Midpoint,
        Solver::Heun,
        Solver::Rk4,
        Solver::Bosh3,
        Solver::Dopri5,
        Solver::Tsit5,
        Solver::Radau5,
    ];

    /// The explicit Runge–Kutta solvers (those with a [`ButcherTableau`]).
    pub const EXPLICIT: [Solver; 7] = [
        Solver::Euler,
        Solver::Midpoint,
        Solver::Heun,
        Solver::Rk4,
        Solver::Bosh3,
        Solver::Dopri5,
        Solver::Tsit5,
    ];

    /// The method's tableau; `None` for the implicit `Radau5`.
    pub fn tableau(self) -> Option<&'static ButcherTableau> {
        match self {
            Solver::Euler => Some(&EULER),
            Solver::Midpoint => Some(&MIDPOINT),
            Solver::Heun => Some(&HEUN),
            Solver::Rk4 => Some(&RK4),
            Solver::Bosh3 => Some(&BOSH3),
            Solver::Dopri5 => Some(&DOPRI5),
            Solver::Tsit5 => Some(&TSIT5),
            Solver::Radau5 => None,
        }
    }

    /// Whether the method is implicit (solves for its stages by Newton iterations).
    pub fn is_implicit(self) -> bool {
        self.tableau().is_none()
    }

    /// Whether the method carries an error estimate (and can choose its own steps).
    pub fn is_adaptive(self) -> bool {
        self.tableau().is_none_or(|t| t.b_err.is_some())
    }

    /// The order of the solution.
    pub fn order(self) -> u32 {
        self.tableau().map_or(5, |t| t.order)
    }
}

const EULER: ButcherTableau = ButcherTableau {
    c: &[0.0],
    a: &[&[]],
    b: &[1.0],
    b_err: None,
    b_mid: None,
    order: 1,
    fsal: false,
};

const MIDPOINT: ButcherTableau = ButcherTableau {
    c: &[0.0, 0.5],
    a: &[&[], &[0.5]],
    b: &[0.0, 1.0],
    b_err: None,
    b_mid: None,
    order: 2,
    fsal: false,
};

const HEUN: ButcherTableau = ButcherTableau {
    c: &[0.0, 1.0],
    a: &[&[], &[1.0]],
    b: &[0.5, 0.5],
    b_err: None,
    b_mid: None,
    order: 2,
    fsal: false,
};

const RK4: ButcherTableau = ButcherTableau {
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    b_err: None,
    b_mid: None,
    order: 4,
    fsal: false,
};

/// Bogacki–Shampine 3(2); embedded weights b̂ = (7/24, 1/4, 1/3, 1/8). The mid-point value is
/// the second stage's midpoint estimate `y + h/2·k2`, as in torchdiffeq.
const BOSH3: ButcherTableau = ButcherTableau {
    c: &[0.0, 0.5, 0.75, 1.0],
    a: &[
        &[],
        &[0.5],
        &[0.0, 0.75],
        &[2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0],
    ],
    b: &[2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0],
    b_err: Some(&[
        2.0 / 9.0 - 7.0 / 24.0,
        1.0 / 3.0 - 1.0 / 4.0,
        4.0 / 9.0 - 1.0 / 3.0,
        -1.0 / 8.0,
    ]),
    b_mid: Some(&[0.0, 0.5, 0.0, 0.0]),
    order: 3,
    fsal: true,
};

/// Dormand–Prince 5(4) with Shampine's (1986) embedded weights
/// b̂ = (1951/21600, 0, 22642/50085, 451/720, −12231/42400, 649/6300, 1/60) and his dense-output
/// mid-point weights, the set torchdiffeq and diffrax use.
const DOPRI5: ButcherTableau = ButcherTableau {
    c: &[0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
    a: &[
        &[],
        &[1.0 / 5.0],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[
            19372.0 / 6561.0,
            -25360.0 / 2187.0,
            64448.0 / 6561.0,
            -212.0 / 729.0,
        ],
        &[
            9017.0 / 3168.0,
            -355.0 / 33.0,
            46732.0 / 5247.0,
            49.0 / 176.0,
            -5103.0 / 18656.0,
        ],
        &[
            35.0 / 384.0,
            0.0,
            500.0 / 1113.0,
            125.0 / 192.0,
            -2187.0 / 6784.0,
            11.0 / 84.0,
        ],
    ],
    b: &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
        0.0,
    ],
    b_err: Some(&[
        35.0 / 384.0 - 1951.0 / 21600.0,
        0.0,
        500.0 / 1113.0 - 22642.0 / 50085.0,
        125.0 / 192.0 - 451.0 / 720.0,
        -2187.0 / 6784.0 + 12231.0 / 42400.0,
        11.0 / 84.0 - 649.0 / 6300.0,
        -1.0 / 60.0,
    ]),
    b_mid: Some(&[
        6025192743.0 / 30085553152.0 / 2.0,
        0.0,
        51252292925.0 / 65400821598.0 / 2.0,
        -2691868925.0 / 45128329728.0 / 2.0,
        187940372067.0 / 1594534317056.0 / 2.0,
        -1776094331.0 / 19743644256.0 / 2.0,
        11237099.0 / 235043384.0 / 2.0,
    ]),
    order: 5,
    fsal: true,
};

/// Tsitouras 5(4) (Comput. Math. Appl. 62, 2011), to double precision. The mid-point weights are
/// Tsitouras's continuous extension `b_i(θ)` at θ = ½.
const TSIT5: ButcherTableau = ButcherTableau {
    c: &[0.0, 0.161, 0.327, 0.9, 0.980_025_540_904_509_7, 1.0, 1.0],
    a: &[
        &[],
        &[0.161],
        &[-0.008_480_655_492_356_989, 0.335_480_655_492_357],
        &[
            2.897_153_057_105_493_4,
            -6.359_448_489_975_075,
            4.362_295_432_869_581,
        ],
        &[
            5.325_864_828_439_257,
            -11.748_883_564_062_828,
            7.495_539_342_889_836,
            -0.092_495_066_361_755_25,
        ],
        &[
            5.861_455_442_946_42,
            -12.920_969_317_847_11,
            8.159_367_898_576_159,
            -0.071_584_973_281_401,
            -0.028_269_050_394_068_383,
        ],
        &[
            0.096_460_766_818_065_23,
            0.01,
            0.479_889_650_414_499_6,
            1.379_008_574_103_742,
            -3.290_069_515_436_081,
            2.324_710_524_099_774,
        ],
    ],
    b: &[
        0.096_460_766_818_065_23,
        0.01,
        0.479_889_650_414_499_6,
        1.379_008_574_103_742,
        -3.290_069_515_436_081,
        2.324_710_524_099_774,
        0.0,
    ],
    b_err: Some(&[
        -1.780_011_052_225_771_4e-3,
        -8.164_344_596_567_469e-4,
        7.880_878_010_261_996e-3,
        -1.447_110_071_732_629e-1,
        5.823_571_654_525_552e-1,
        -4.580_821_059_291_869_5e-1,
        1.0 / 66.0,
    ]),
    b_mid: Some(&TSIT5_MID),
    order: 5,
    fsal: true,
};

/// Tsitouras's interpolant weights `b_i(θ)` evaluated at θ = ½ (written out as the polynomials
/// so that the numbers can be checked against the paper).
#[allow(clippy::excessive_precision)] // the published digits, kept as printed
const TSIT5_MID: [f64; 7] = {
    const X: f64 = 0.5;
    [
        -1.053_088_497_729_021_6
            * X
            * (X - 1.329_989_018_975_412)
            * (X * X - 1.436_402_854_171_635_1 * X + 0.713_981_691_707_420_9),
        0.1017 * X * X * (X * X - 2.196_656_833_824_975_4 * X + 1.294_985_250_737_463_1),
        2.490_627_285_651_252_8
            * X
            * X
            * (X * X - 2.385_356_454_720_616_6 * X + 1.578_034_682_080_924_9),
        -16.548_102_889_244_902
            * (X - 1.217_129_272_955_332_4)
            * (X - 0.616_204_060_378_000_9)
            * X
            * X,
        47.379_521_962_819_28
            * (X - 1.203_071_208_372_362_6)
            * (X - 0.658_047_292_653_547_4)
            * X
            * X,
        -34.870_657_861_496_61 * (X - 1.2) * (X - 2.0 / 3.0) * X * X,
        2.5 * (X - 1.0) * (X - 0.6) * X * X,
    ]
};

#[cfg(test)]
mod tests;
