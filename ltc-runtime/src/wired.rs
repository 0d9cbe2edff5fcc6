//! The wired CfC: one CfC (heads only) per wiring layer, each fed within the step by the
//! layers before it.

use crate::cfc::Cfc;
use crate::error::FormatError;
use crate::format::{Activation, Mode, WiredVariant};
use crate::read::{Indices, Reader};

/// Wiring layers a file may hold.
pub(crate) const MAX_LAYERS: usize = 8;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Wired<'a> {
    variant: WiredVariant,
    units: usize,
    inputs: usize,
    layers: usize,
    sizes: [usize; MAX_LAYERS],
    cells: [Option<Cfc<'a>>; MAX_LAYERS],
    /// The state's position (neuron id) of each neuron in layer order.
    layer_order: Indices<'a>,
    /// Each neuron id's position in layer order.
    id_order: Indices<'a>,
    /// The outputs' columns of the last layer (ncps variant).
    motor: Indices<'a>,
}

impl<'a> Wired<'a> {
    pub(crate) fn read(
        r: &mut Reader<'a>,
        inputs: usize,
        units: usize,
        outputs: usize,
    ) -> Result<Self, FormatError> {
        let variant = r.code("wired variant", WiredVariant::from_code)?;
        let mode = r.code("mode", Mode::from_code)?;
        let layers = r.size("wiring layers", 1, MAX_LAYERS)?;
        let mut sizes = [0; MAX_LAYERS];
        for size in &mut sizes[..layers] {
            *size = r.size("layer size", 1, units)?;
        }
        let total: usize = sizes.iter().sum();
        if total != units {
            return Err(FormatError::Invalid {
                field: "sum of layer sizes",
                value: total,
                limit: units,
            });
        }
        let layer_order = r.indices("layer order", units, units)?;
        let id_order = r.indices("id order", units, units)?;
        // Inverse permutations of each other, so that both are permutations.
        for (position, id) in layer_order.iter().enumerate() {
            if id_order.get(id) != position {
                return Err(FormatError::Invalid {
                    field: "id order",
                    value: id,
                    limit: units - 1,
                });
            }
        }
        // The outputs: ncps's variant, columns of the last layer; the faithful one, neurons
        // 0..d_output.
        let motor = match variant {
            WiredVariant::Ncps => r.indices("motor column", outputs, sizes[layers - 1])?,
            WiredVariant::Faithful => {
                if outputs > units {
                    return Err(FormatError::Invalid {
                        field: "d_output",
                        value: outputs,
                        limit: units,
                    });
                }
                Indices::EMPTY
            }
        };
        let mut cells = [None; MAX_LAYERS];
        for (l, cell) in cells[..layers].iter_mut().enumerate() {
            let n_l = sizes[l];
            // What layer l reads: ncps, the input (or the layer before) and its own old state;
            // faithful, the input and every neuron.
            let z = match variant {
                WiredVariant::Ncps if l == 0 => inputs + n_l,
                WiredVariant::Ncps => sizes[l - 1] + n_l,
                WiredVariant::Faithful => inputs + units,
            };
            // No backbone: the activation is never applied.
            *cell = Some(Cfc::read(r, mode, Activation::Tanh, [z, n_l, 0, 0])?);
        }
        Ok(Wired {
            variant,
            units,
            inputs,
            layers,
            sizes,
            cells,
            layer_order,
            id_order,
            motor,
        })
    }

    fn cells(&self) -> impl Iterator<Item = (usize, &Cfc<'a>)> {
        self.sizes[..self.layers]
            .iter()
            .copied()
            .zip(self.cells[..self.layers].iter().flatten())
    }

    /// Scratch: the state in layer order, the widest `z`, the widest layer's own scratch and
    /// new state.
    pub(crate) fn scratch_len(&self) -> usize {
        let widest =
            |f: fn(usize, &Cfc<'_>) -> usize| self.cells().map(|(n, c)| f(n, c)).max().unwrap_or(0);
        self.units + widest(|_, c| c.z_len()) + widest(|_, c| c.scratch_len()) + widest(|n, _| n)
    }

    /// One step: `h` the state (layer order for ncps's variant, neuron ids for the faithful
    /// one), `out` the motor neurons' new states.
    pub(crate) fn step(
        &self,
        x: &[f32],
        h: &mut [f32],
        dt: f32,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        let (layered, rest) = scratch.split_at_mut(self.units);
        let faithful = self.variant == WiredVariant::Faithful;
        if faithful {
            for (slot, id) in layered.iter_mut().zip(self.layer_order.iter()) {
                *slot = h[id];
            }
        } else {
            layered.copy_from_slice(h);
        }
        let mut start = 0;
        let mut previous = 0..0;
        for (n_l, cell) in self.cells() {
            let (z, rest) = rest.split_at_mut(cell.z_len());
            let (next, cell_scratch) = rest.split_at_mut(n_l);
            let own = start..start + n_l;
            if faithful {
                // [x, new states of the layers before, old states of this one and the rest].
                z[..self.inputs].copy_from_slice(x);
                z[self.inputs..].copy_from_slice(layered);
            } else {
                let input: &[f32] = if start == 0 { x } else { &layered[previous] };
                let (z_in, z_own) = z.split_at_mut(input.len());
                z_in.copy_from_slice(input);
                z_own.copy_from_slice(&layered[own.clone()]);
            }
            cell.update(z, dt, cell_scratch, next);
            layered[own.clone()].copy_from_slice(next);
            previous = own;
            start += n_l;
        }
        if faithful {
            for (slot, position) in h.iter_mut().zip(self.id_order.iter()) {
                *slot = layered[position];
            }
            out.copy_from_slice(&h[..out.len()]);
        } else {
            h.copy_from_slice(layered);
            let last = &layered[previous];
            for (o, column) in out.iter_mut().zip(self.motor.iter()) {
                *o = last[column];
            }
        }
    }
}
