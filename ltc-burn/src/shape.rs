//! Run-time shape checks whose panic messages name the expected and the actual shape.

/// One expected dimension: its name and, when it is fixed, its size.
pub(crate) type Dim = (&'static str, Option<usize>);

/// Formats `[batch, seq, d_input=3]` from the expected dimensions.
fn describe(expected: &[Dim]) -> String {
    let parts: Vec<String> = expected
        .iter()
        .map(|(name, size)| match size {
            Some(size) => format!("{name}={size}"),
            None => (*name).to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Panics unless `actual` matches `expected`, dimension by dimension.
///
/// The message reads `"{context}: {tensor} must have shape [batch, seq, d_input=3], got [4, 10, 5]"`.
/// Free dimensions (`None`) accept any size except zero.
#[track_caller]
pub(crate) fn check_shape(context: &str, tensor: &str, actual: &[usize], expected: &[Dim]) {
    let ok = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(&a, (_, size))| match size {
                Some(size) => a == *size,
                None => a > 0,
            });
    if !ok {
        panic!(
            "{context}: {tensor} must have shape {}, got {actual:?}",
            describe(expected)
        );
    }
}

#[cfg(test)]
mod tests;
