//! Reading a model file: a cursor over its words, and views of `f32` and `u32` arrays that
//! stay in the caller's bytes (no copy, no allocation, any alignment).

use crate::error::FormatError;

/// `len` little-endian `f32` values in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floats<'a>(&'a [u8]);

impl<'a> Floats<'a> {
    pub(crate) fn len(self) -> usize {
        self.0.len() / 4
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = f32> + 'a {
        self.0
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    }

    /// Rows of `cols` values (a row-major matrix).
    pub(crate) fn rows(self, cols: usize) -> impl Iterator<Item = Floats<'a>> {
        self.0.chunks_exact(4 * cols.max(1)).map(Floats)
    }

    /// Values `start..start + len` (in bounds by construction: checked when parsed).
    pub(crate) fn range(self, start: usize, len: usize) -> Floats<'a> {
        Floats(&self.0[4 * start..4 * (start + len)])
    }
}

/// `len` little-endian `u32` values in place, each checked against a limit when read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Indices<'a>(&'a [u8]);

impl<'a> Indices<'a> {
    pub(crate) const EMPTY: Indices<'static> = Indices(&[]);

    pub(crate) fn iter(self) -> impl Iterator<Item = usize> + 'a {
        self.0
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
    }

    /// Index `i` (in bounds by construction: checked when parsed).
    pub(crate) fn get(self, i: usize) -> usize {
        u32::from_le_bytes([
            self.0[4 * i],
            self.0[4 * i + 1],
            self.0[4 * i + 2],
            self.0[4 * i + 3],
        ]) as usize
    }

    /// Indices `start..start + len` (in bounds by construction: checked when parsed).
    pub(crate) fn range(self, start: usize, len: usize) -> Indices<'a> {
        Indices(&self.0[4 * start..4 * (start + len)])
    }
}

/// A cursor over the file's words.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    fn take(&mut self, words: usize) -> Result<&'a [u8], FormatError> {
        let needed = words
            .checked_mul(4)
            .and_then(|n| n.checked_add(self.at))
            .filter(|&end| end <= self.bytes.len())
            .ok_or(FormatError::Truncated {
                needed: self.at.saturating_add(words.saturating_mul(4)),
                len: self.bytes.len(),
            })?;
        let out = &self.bytes[self.at..needed];
        self.at = needed;
        Ok(out)
    }

    pub(crate) fn raw(&mut self) -> Result<[u8; 4], FormatError> {
        let w = self.take(1)?;
        Ok([w[0], w[1], w[2], w[3]])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.raw()?))
    }

    /// A size: at least `min`, at most `limit` (bounds that keep every product in range).
    pub(crate) fn size(
        &mut self,
        field: &'static str,
        min: usize,
        limit: usize,
    ) -> Result<usize, FormatError> {
        let value = self.u32()? as usize;
        if value < min || value > limit {
            return Err(FormatError::Invalid {
                field,
                value,
                limit,
            });
        }
        Ok(value)
    }

    /// A code, decoded by `decode`.
    pub(crate) fn code<T>(
        &mut self,
        field: &'static str,
        decode: fn(u32) -> Option<T>,
    ) -> Result<T, FormatError> {
        let value = self.u32()?;
        decode(value).ok_or(FormatError::Code { field, value })
    }

    pub(crate) fn f32(&mut self) -> Result<f32, FormatError> {
        Ok(f32::from_le_bytes(self.raw()?))
    }

    pub(crate) fn floats(&mut self, len: usize) -> Result<Floats<'a>, FormatError> {
        self.take(len).map(Floats)
    }

    /// `len` indices, each below `bound` (`field` names them in the error).
    pub(crate) fn indices(
        &mut self,
        field: &'static str,
        len: usize,
        bound: usize,
    ) -> Result<Indices<'a>, FormatError> {
        let indices = Indices(self.take(len)?);
        check_below(field, indices, bound)?;
        Ok(indices)
    }
}

/// Every index below `bound`.
pub(crate) fn check_below(
    field: &'static str,
    indices: Indices<'_>,
    bound: usize,
) -> Result<(), FormatError> {
    match indices.iter().find(|&i| i >= bound) {
        Some(value) => Err(FormatError::Invalid {
            field,
            value,
            limit: bound.saturating_sub(1),
        }),
        None => Ok(()),
    }
}
