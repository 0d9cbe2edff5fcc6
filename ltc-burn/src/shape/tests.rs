use super::*;

#[test]
fn accepts_matching_shapes() {
    check_shape(
        "f",
        "x",
        &[4, 7, 3],
        &[("batch", None), ("seq", None), ("d", Some(3))],
    );
}

#[test]
#[should_panic(expected = "f: x must have shape [batch, seq, d_input=3], got [4, 7, 5]")]
fn names_expected_and_actual() {
    check_shape(
        "f",
        "x",
        &[4, 7, 5],
        &[("batch", None), ("seq", None), ("d_input", Some(3))],
    );
}

#[test]
#[should_panic(expected = "got [0, 7, 3]")]
fn rejects_empty_free_dimension() {
    check_shape(
        "f",
        "x",
        &[0, 7, 3],
        &[("batch", None), ("seq", None), ("d", Some(3))],
    );
}
