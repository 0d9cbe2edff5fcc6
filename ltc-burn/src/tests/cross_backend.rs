//! Cross-backend agreement: the same weights and inputs give the same outputs on ndarray and
//! wgpu (within 1e-4) for every module: the LTC (through each backend's fused kernel), the CfC
//! (every mode, wired too), the liquid layer and the Neural ODE with a fixed-step solver.
//!
//! Each test seeds the CPU backend's generator (the weights are drawn there and copied to the
//! GPU), so its numbers are the same run alone or in the suite.
//!
//! The module is named `cross_backend_wgpu` so that `cargo xtask test` runs it with the wgpu
//! tests (it needs Vulkan) and skips it in the ndarray run.

mod cross_backend_wgpu {
    use burn::module::Module;
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    use burn::tensor::Tensor;
    use burn::tensor::backend::Backend;
    use ltc_testing::{assert_close, numbers, tensor, values};
    use ltc_wirings::{AutoNcp, FullyConnected};

    use crate::cfc::{CfcConfig, CfcMode, WiredCfcConfig};
    use crate::liquid::LiquidLayerConfig;
    use crate::ltc::LtcConfig;
    use crate::ode::{MlpFieldConfig, NeuralOdeConfig, SolveOptions, Solver};

    type Cpu = burn::backend::NdArray<f32>;
    type Gpu = burn::backend::wgpu::CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>;

    const TOL: f64 = 1e-4;

    /// The CPU module's weights, copied into the GPU module (built from the same config).
    fn to_gpu<MC: Module<Cpu>, MG: Module<Gpu>>(cpu: MC, gpu: MG) -> MG {
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
        let bytes = Recorder::<Cpu>::record(&recorder, cpu.into_record(), ()).unwrap();
        let record = Recorder::<Gpu>::load(&recorder, bytes, &ltc_testing::wgpu_device()).unwrap();
        gpu.load_record(record)
    }

    fn input<B: Backend, const D: usize>(
        shape: [usize; D],
        seed: u64,
        device: &B::Device,
    ) -> Tensor<B, D> {
        let n = shape.iter().product();
        tensor(&numbers(n, seed, -2.0, 2.0), shape, device)
    }

    fn wgpu() -> burn::backend::wgpu::WgpuDevice {
        ltc_testing::wgpu_device()
    }

    #[test]
    fn ltc_agrees() {
        let _draws = ltc_testing::draws();
        ltc_testing::seed::<Cpu>(&Default::default(), 1);
        let configs = [
            LtcConfig::from_wiring(AutoNcp::new(12, 3).build(4).unwrap()),
            LtcConfig::from_wiring(FullyConnected::new(6).build(4).unwrap())
                .with_mixed_memory(true),
        ];
        for (i, config) in configs.into_iter().enumerate() {
            let cpu = config.init::<Cpu>(&Default::default()).unwrap();
            let gpu = to_gpu(cpu.clone(), config.init::<Gpu>(&wgpu()).unwrap());
            let dt = [3, 7];
            let (y_cpu, s_cpu) = cpu.forward(
                input([3, 7, 4], 1, &Default::default()),
                None,
                Some(tensor(&numbers(21, 2, 0.1, 2.0), dt, &Default::default())),
            );
            let (y_gpu, s_gpu) = gpu.forward(
                input([3, 7, 4], 1, &wgpu()),
                None,
                Some(tensor(&numbers(21, 2, 0.1, 2.0), dt, &wgpu())),
            );
            let what = format!("LTC config {i}");
            assert_close(
                &format!("{what}: outputs"),
                &values(y_gpu),
                &values(y_cpu),
                TOL,
                TOL,
            );
            assert_close(
                &format!("{what}: state"),
                &values(s_gpu.hidden),
                &values(s_cpu.hidden),
                TOL,
                TOL,
            );
        }
    }

    #[test]
    fn cfc_agrees() {
        let _draws = ltc_testing::draws();
        ltc_testing::seed::<Cpu>(&Default::default(), 1);
        for mode in [CfcMode::Default, CfcMode::Pure, CfcMode::NoGate] {
            let mut config = CfcConfig::from_sizes(4, 8).with_proj_size(Some(3));
            config.cell.mode = mode;
            let cpu = config.init::<Cpu>(&Default::default()).unwrap();
            let gpu = to_gpu(cpu.clone(), config.init::<Gpu>(&wgpu()).unwrap());
            let (y_cpu, _) = cpu.forward(input([3, 7, 4], 3, &Default::default()), None, None);
            let (y_gpu, _) = gpu.forward(input([3, 7, 4], 3, &wgpu()), None, None);
            assert_close(
                &format!("CfC {mode:?}"),
                &values(y_gpu),
                &values(y_cpu),
                TOL,
                TOL,
            );
        }
        let config = WiredCfcConfig::from_wiring(AutoNcp::new(12, 3).build(4).unwrap());
        let cpu = config.init::<Cpu>(&Default::default()).unwrap();
        let gpu = to_gpu(cpu.clone(), config.init::<Gpu>(&wgpu()).unwrap());
        let (y_cpu, _) = cpu.forward(input([3, 7, 4], 4, &Default::default()), None, None);
        let (y_gpu, _) = gpu.forward(input([3, 7, 4], 4, &wgpu()), None, None);
        assert_close("wired CfC", &values(y_gpu), &values(y_cpu), TOL, TOL);
    }

    #[test]
    fn liquid_layer_agrees() {
        let _draws = ltc_testing::draws();
        ltc_testing::seed::<Cpu>(&Default::default(), 1);
        let config = LiquidLayerConfig::from_sizes(4, 8);
        let cpu = config.init::<Cpu>(&Default::default()).unwrap();
        let gpu = to_gpu(cpu.clone(), config.init::<Gpu>(&wgpu()).unwrap());
        let (y_cpu, _) = cpu.forward(input([3, 7, 4], 5, &Default::default()), None, None);
        let (y_gpu, _) = gpu.forward(input([3, 7, 4], 5, &wgpu()), None, None);
        assert_close("liquid layer", &values(y_gpu), &values(y_cpu), TOL, TOL);
    }

    #[test]
    fn neural_ode_agrees() {
        let _draws = ltc_testing::draws();
        ltc_testing::seed::<Cpu>(&Default::default(), 1);
        let field = MlpFieldConfig::new(3, 16);
        let config = NeuralOdeConfig::new()
            .with_options(
                SolveOptions::new()
                    .with_solver(Solver::Rk4)
                    .with_dt(Some(0.05)),
            )
            .with_augment(1);
        let cpu = config
            .init(field.init::<Cpu>(&Default::default()).unwrap())
            .unwrap();
        let gpu_field = to_gpu(cpu.field.clone(), field.init::<Gpu>(&wgpu()).unwrap());
        let gpu = config.init(gpu_field).unwrap();
        let span = [0.0, 0.5, 1.0];
        let y_cpu = cpu
            .forward(input([4, 2], 6, &Default::default()), &span)
            .unwrap();
        let y_gpu = gpu.forward(input([4, 2], 6, &wgpu()), &span).unwrap();
        assert_close(
            "Neural ODE (RK4, dt 0.05)",
            &values(y_gpu.trajectory),
            &values(y_cpu.trajectory),
            TOL,
            TOL,
        );
    }
}
