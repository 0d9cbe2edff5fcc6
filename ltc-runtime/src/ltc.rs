//! The LTC cell: the input mapping, the fused semi-implicit unfolds over the wiring's synapses
//! (source-major, as ltc-burn's CPU kernel), the output mapping.

use crate::error::FormatError;
use crate::format::{MAP_INPUT_B, MAP_INPUT_W, MAP_OUTPUT_B, MAP_OUTPUT_W};
use crate::math::sigmoid;
use crate::read::{Floats, Indices, Reader};

/// Timespans below this count as this much (ltc-burn's `MIN_TIMESPAN`): the step holds the
/// potentials, and `cm / Δt` stays finite.
const MIN_TIMESPAN: f32 = 1e-20;

/// One synapse list, source-major.
#[derive(Debug, Clone, Copy)]
struct Synapses<'a> {
    /// `[sources + 1]`: synapses of source `i` are `offsets[i]..offsets[i + 1]`.
    offsets: Indices<'a>,
    dst: Indices<'a>,
    w: Floats<'a>,
    sigma: Floats<'a>,
    mu: Floats<'a>,
    erev: Floats<'a>,
}

impl<'a> Synapses<'a> {
    fn read(r: &mut Reader<'a>, sources: usize, destinations: usize) -> Result<Self, FormatError> {
        let count = r.size("synapse count", 0, sources.saturating_mul(destinations))?;
        let offsets = r.indices("synapse offset", sources + 1, count + 1)?;
        let mut last = 0;
        for (i, offset) in offsets.iter().enumerate() {
            let first_or_last_wrong = (i == 0 && offset != 0) || (i == sources && offset != count);
            if offset < last || first_or_last_wrong {
                return Err(FormatError::Invalid {
                    field: "synapse offset",
                    value: offset,
                    limit: count,
                });
            }
            last = offset;
        }
        Ok(Synapses {
            offsets,
            dst: r.indices("synapse destination", count, destinations)?,
            w: r.floats(count)?,
            sigma: r.floats(count)?,
            mu: r.floats(count)?,
            erev: r.floats(count)?,
        })
    }

    /// `num[j] += Σ a·erev`, `den[j] += Σ a` with `a = w·σ(σ·(v_i − μ))` over every synapse
    /// `i → j`.
    fn accumulate(&self, v: &[f32], num: &mut [f32], den: &mut [f32]) {
        let mut start = 0;
        for (&vi, end) in v.iter().zip(self.offsets.iter().skip(1)) {
            let len = end - start;
            let params = self
                .w
                .range(start, len)
                .iter()
                .zip(self.sigma.range(start, len).iter())
                .zip(self.mu.range(start, len).iter())
                .zip(self.erev.range(start, len).iter());
            for (j, (((w, sigma), mu), erev)) in self.dst.range(start, len).iter().zip(params) {
                let a = w * sigmoid(sigma * (vi - mu));
                num[j] += a * erev;
                den[j] += a;
            }
            start = end;
        }
    }
}

/// An LTC cell read from a file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ltc<'a> {
    units: usize,
    inputs: usize,
    motor: usize,
    unfolds: usize,
    epsilon: f32,
    input_w: Option<Floats<'a>>,
    input_b: Option<Floats<'a>>,
    output_w: Option<Floats<'a>>,
    output_b: Option<Floats<'a>>,
    cm: Floats<'a>,
    gleak: Floats<'a>,
    gleak_vleak: Floats<'a>,
    sensory: Synapses<'a>,
    recurrent: Synapses<'a>,
}

impl<'a> Ltc<'a> {
    pub(crate) fn read(
        r: &mut Reader<'a>,
        inputs: usize,
        units: usize,
        motor: usize,
    ) -> Result<Self, FormatError> {
        if motor > units {
            return Err(FormatError::Invalid {
                field: "LTC d_output",
                value: motor,
                limit: units,
            });
        }
        let unfolds = r.size("unfolds", 1, 1 << 16)?;
        let epsilon = r.f32()?;
        let flags = r.u32()?;
        if flags > 15 {
            return Err(FormatError::Code {
                field: "mapping flags",
                value: flags,
            });
        }
        let mut optional = |flag: u32, len: usize| -> Result<Option<Floats<'a>>, FormatError> {
            if flags & flag != 0 {
                r.floats(len).map(Some)
            } else {
                Ok(None)
            }
        };
        let input_w = optional(MAP_INPUT_W, inputs)?;
        let input_b = optional(MAP_INPUT_B, inputs)?;
        let output_w = optional(MAP_OUTPUT_W, motor)?;
        let output_b = optional(MAP_OUTPUT_B, motor)?;
        Ok(Ltc {
            units,
            inputs,
            motor,
            unfolds,
            epsilon,
            input_w,
            input_b,
            output_w,
            output_b,
            cm: r.floats(units)?,
            gleak: r.floats(units)?,
            gleak_vleak: r.floats(units)?,
            sensory: Synapses::read(r, inputs, units)?,
            recurrent: Synapses::read(r, units, units)?,
        })
    }

    /// Scratch values a step needs: the mapped input and five rows of `units`.
    pub(crate) fn scratch_len(&self) -> usize {
        self.inputs + 5 * self.units
    }

    /// One step: `x` the input, `v` the potentials (updated), `dt` the elapsed time, `out` the
    /// motor outputs.
    pub(crate) fn step(
        &self,
        x: &[f32],
        v: &mut [f32],
        dt: Option<f32>,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        let n = self.units;
        let (mapped, rest) = scratch.split_at_mut(self.inputs);
        let (cm_t, rest) = rest.split_at_mut(n);
        let (num_f, rest) = rest.split_at_mut(n);
        let (den_f, rest) = rest.split_at_mut(n);
        let (num, rest) = rest.split_at_mut(n);
        let den = &mut rest[..n];
        mapped.copy_from_slice(x);
        affine(mapped, self.input_w, self.input_b);
        // cm / (Δt / K), as ltc-burn computes it.
        let k = self.unfolds as f32;
        match dt {
            None => cm_t
                .iter_mut()
                .zip(self.cm.iter())
                .for_each(|(t, c)| *t = c * k),
            Some(dt) => {
                let inv = 1.0 / (dt.max(MIN_TIMESPAN) / k);
                cm_t.iter_mut()
                    .zip(self.cm.iter())
                    .for_each(|(t, c)| *t = c * inv);
            }
        }
        let leak = self.gleak.iter().zip(self.gleak_vleak.iter());
        for (j, (gleak, gleak_vleak)) in leak.enumerate() {
            num_f[j] = gleak_vleak;
            den_f[j] = cm_t[j] + gleak + self.epsilon;
        }
        self.sensory.accumulate(mapped, num_f, den_f);
        for _ in 0..self.unfolds {
            for j in 0..n {
                num[j] = cm_t[j] * v[j] + num_f[j];
                den[j] = den_f[j];
            }
            self.recurrent.accumulate(v, num, den);
            for j in 0..n {
                v[j] = num[j] / den[j];
            }
        }
        out.copy_from_slice(&v[..self.motor]);
        affine(out, self.output_w, self.output_b);
    }
}

/// `x ⊙ w + b` (either part absent when `None`).
fn affine(x: &mut [f32], w: Option<Floats<'_>>, b: Option<Floats<'_>>) {
    if let Some(w) = w {
        x.iter_mut().zip(w.iter()).for_each(|(x, w)| *x *= w);
    }
    if let Some(b) = b {
        x.iter_mut().zip(b.iter()).for_each(|(x, b)| *x += b);
    }
}
