//! Our own `_start`: no C start-up files. libc is linked for `memcpy` and `memset` alone (the
//! compiler's builtins call them; the dynamic loader resolves them), not for any start-up.
fn main() {
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-lib=c");
}
