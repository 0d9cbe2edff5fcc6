use super::*;

/// The checkout `cargo run` names wins over the one the binary was compiled in (CI shares
/// the target folder between clones: a binary reused from another clone once made every
/// lint and test command fail in a folder that no longer existed).
#[test]
fn the_workspace_is_the_running_checkout() {
    assert_eq!(
        workspace_root_from(Some("/elsewhere/clone/xtask".into())),
        Path::new("/elsewhere/clone")
    );
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert_eq!(workspace_root_from(None), compiled);
}

#[test]
fn parses_libtest_result_lines() {
    let c = parse_result_line(
        "test result: ok. 12 passed; 1 failed; 3 ignored; 0 measured; 40 filtered out; finished in 0.52s",
    )
    .unwrap();
    assert_eq!((c.passed, c.failed, c.ignored), (12, 1, 3));
    assert!(parse_result_line("running 12 tests").is_none());
}

#[test]
fn vulkan_check_names_what_is_missing_and_the_fix() {
    let root = std::env::temp_dir().join(format!("xtask-vulkan-{}", std::process::id()));
    let (lib, icd) = (root.join("lib"), root.join("icd.d"));
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&icd).unwrap();
    let (libs, icds) = (vec![lib.clone()], vec![icd.clone()]);

    let err = vulkan_status(&libs, &icds, false).unwrap_err();
    assert!(
        err.contains("libvulkan.so.1) and any Vulkan driver"),
        "{err}"
    );
    assert!(
        err.contains("apt-get install -y mesa-vulkan-drivers libvulkan1"),
        "{err}"
    );
    assert!(err.contains("--backend ndarray"), "{err}");

    std::fs::write(lib.join("libvulkan.so.1"), b"").unwrap();
    let err = vulkan_status(&libs, &icds, false).unwrap_err();
    assert!(err.contains("a Vulkan driver (no ICD manifest"), "{err}");
    assert!(
        vulkan_status(&libs, &icds, true).is_ok(),
        "VK_DRIVER_FILES counts as a driver"
    );

    std::fs::write(icd.join("lvp_icd.x86_64.json"), b"{}").unwrap();
    assert!(vulkan_status(&libs, &icds, false).is_ok());
    std::fs::remove_file(lib.join("libvulkan.so.1")).unwrap();
    let err = vulkan_status(&libs, &icds, false).unwrap_err();
    assert!(
        err.contains("but the Vulkan loader (libvulkan.so.1) is missing"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn recognises_generic_test_instantiations() {
    assert_eq!(
        parse_generic_pass("test liquid::layer::tests::backend_wgpu::hand_computed ... ok"),
        Some((
            "backend_wgpu".into(),
            "liquid::layer::tests::hand_computed".into()
        ))
    );
    assert_eq!(
        parse_generic_pass("test m::backend_ndarray::rejects - should panic ... ok"),
        Some(("backend_ndarray".into(), "m::rejects".into()))
    );
    assert_eq!(
        parse_generic_pass("test m::backend_ndarray::x ... FAILED"),
        None
    );
    assert_eq!(
        parse_generic_pass("test shape::tests::accepts ... ok"),
        None
    );
}

#[test]
fn parses_backends() {
    let args = |v: &[&str]| parse_test_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(args(&[]).unwrap().0, Backend::ALL.to_vec());
    assert_eq!(args(&["--backend", "wgpu"]).unwrap().0, vec![Backend::Wgpu]);
    assert!(
        args(&["--backend", "cuda"])
            .unwrap_err()
            .contains("unknown backend `cuda`")
    );
    assert!(!args(&["--no-lint"]).unwrap().1);
}

#[test]
fn the_runtime_check_reads_cargo_tree_and_extern_crates() {
    let tree = "ltc-runtime v0.1.0 (/w/ltc-runtime)\nlibm v0.2.16\nlibm v0.2.16\n";
    assert_eq!(tree_packages(tree), ["libm", "ltc-runtime"]);
    let with_std = "ltc-runtime v0.1.0 (/w)\nlibm v0.2.16\nrand v0.9.0 (*)\n";
    assert_eq!(tree_packages(with_std), ["libm", "ltc-runtime", "rand"]);
    assert_eq!(extern_std_crate("extern crate alloc;"), Some("alloc"));
    assert_eq!(extern_std_crate("  extern crate std as s;"), Some("std"));
    assert_eq!(extern_std_crate("// no extern crate here"), None);
    assert_eq!(extern_std_crate("extern crate libm;"), None);
}
