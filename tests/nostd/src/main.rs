//! Steps an exported AutoNCP(19, 4) wired CfC 1,000 times on stack buffers, with no std, no
//! allocator and no C runtime start-up; exits 0 when every output is finite and within the
//! tanh bound, non-zero otherwise (2: parse error, 3: step error, 4: bad output).
#![no_std]
#![no_main]

use ltc_runtime::Model;

static MODEL: &[u8] = include_bytes!("../../../ltc-runtime/tests/fixtures/wired_cfc_ncps.ltcr");

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    exit(101)
}

/// The process entry: align the stack as a call expects, then `run`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "and rsp, -16",
        "call {run}",
        "ud2",
        run = sym run,
    )
}

extern "C" fn run() -> ! {
    let Ok(model) = Model::parse(MODEL) else {
        exit(2)
    };
    let mut state = [0.0f32; 64];
    let mut scratch = [0.0f32; 512];
    let mut y = [0.0f32; 4];
    if model.state_len() > state.len() || model.scratch_len() > scratch.len() {
        exit(2)
    }
    let state = &mut state[..model.state_len()];
    let mut phase = 0.0f32;
    for t in 0..1000u32 {
        phase += 0.1;
        let x = [phase - (phase * 0.1) as i32 as f32 * 10.0, 0.5, -1.0];
        let dt = 0.05 + 0.01 * (t % 3) as f32;
        if model
            .step(&x, Some(dt), state, &mut scratch, &mut y)
            .is_err()
        {
            exit(3)
        }
    }
    let fine = y.iter().all(|v| v.is_finite() && v.abs() <= 1.0);
    exit(if fine { 0 } else { 4 })
}

/// Linux's `exit_group`.
fn exit(code: i32) -> ! {
    // SAFETY: the exit_group system call takes one integer and does not return.
    unsafe {
        core::arch::asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn));
    }
}
