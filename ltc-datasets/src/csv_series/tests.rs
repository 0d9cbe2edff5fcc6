use super::*;
use crate::series::{SeriesBatch, SeriesBatcher};
use burn::backend::NdArray;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;

fn csv(rows: usize) -> String {
    let mut s = String::from("time, a ,b,label\n");
    for i in 0..rows {
        s.push_str(&format!(
            "{},{},{},{}\n",
            0.5 * (i * i) as f64,
            i,
            2 * i,
            i % 3
        ));
    }
    s
}

fn load(text: &str, config: &CsvSeriesConfig) -> Result<CsvSeries, DatasetError> {
    CsvSeries::from_reader("data.csv", text.as_bytes(), config)
}

#[test]
fn csv_to_windows_to_batch() {
    let mut config = CsvSeriesConfig::new(&["a", "b"], &["label"], 4);
    config.time = Some("time".into());
    config.valid_fraction = 0.25;
    let series = load(&csv(40), &config).unwrap();
    // 30 training rows → 26 windows; 10 validation rows → 6 windows.
    assert_eq!((series.train().len(), series.valid().len()), (26, 6));
    // Normalised with the training part's statistics: column a = 0..29 there.
    let n = series.input_normalizer();
    assert!((n.mean[0] - 14.5).abs() < 1e-12);
    let first = series.train().get(0).unwrap();
    let close = |got: Vec<f64>, want: [f64; 2]| {
        assert!(
            got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5),
            "{got:?} vs {want:?}"
        );
    };
    close(n.invert(&first.inputs[..2]), [0.0, 0.0]);
    // Elapsed times are the time differences: t = i²/2 → Δ = i − 1/2.
    assert_eq!(
        first.timespans.as_deref(),
        Some(&[0.5f32, 0.5, 1.5, 2.5][..])
    );
    // The validation windows come after every training row.
    let v = series.valid().get(0).unwrap();
    close(n.invert(&v.inputs[..2]), [30.0, 60.0]);
    let items = (0..3).map(|i| series.train().get(i).unwrap()).collect();
    let batch: SeriesBatch<NdArray> = SeriesBatcher.batch(items, &Default::default());
    assert_eq!(batch.inputs.dims(), [3, 4, 2]);
    assert_eq!(batch.targets.dims(), [3, 4, 1]);
    assert_eq!(batch.timespans.unwrap().dims(), [3, 4]);
}

#[test]
fn missing_column() {
    let err = load(&csv(20), &CsvSeriesConfig::new(&["a", "c"], &["label"], 3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.csv:1: column 'c': no such column in the header (columns: time, a, b, label)"
    );
}

#[test]
fn non_numeric_cell() {
    let text = csv(20).replacen("3,6,0", "3,six,0", 1);
    let err = load(&text, &CsvSeriesConfig::new(&["a", "b"], &["label"], 3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.csv:5: column 'b': \"six\" is not a number"
    );
}

#[test]
fn nan_cell() {
    let text = csv(20).replacen("4,8,1", "NaN,8,1", 1);
    let err = load(&text, &CsvSeriesConfig::new(&["a", "b"], &["label"], 3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.csv:6: column 'a': \"NaN\" is not a finite number"
    );
}

#[test]
fn time_must_increase() {
    let text = "time,a,label\n0,1,0\n1,2,0\n1,3,0\n";
    let mut config = CsvSeriesConfig::new(&["a"], &["label"], 1);
    config.time = Some("time".into());
    let err = load(text, &config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.csv:4: column 'time': time 1 does not increase (previous row: 1)"
    );
}

#[test]
fn too_few_rows() {
    let err = load(&csv(6), &CsvSeriesConfig::new(&["a"], &["label"], 5)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("data.csv: the training part has 5 rows, but one window needs 6"),
        "{err}"
    );
}

#[test]
fn ragged_row_and_missing_file() {
    let text = "a,label\n1,0\n2\n";
    let err = load(text, &CsvSeriesConfig::new(&["a"], &["label"], 1)).unwrap_err();
    assert!(
        err.to_string().starts_with("data.csv:3: unreadable row"),
        "{err}"
    );
    let err = CsvSeries::load(
        "/no/such/file.csv",
        &CsvSeriesConfig::new(&["a"], &["b"], 1),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/no/such/file.csv: cannot open"),
        "{err}"
    );
}

/// Random bytes, truncated files, huge numbers and NaN text: errors, never panics.
#[test]
fn arbitrary_input_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let base = csv(30);
    let config = CsvSeriesConfig::new(&["a", "b"], &["label"], 3);
    for case in 0..2000 {
        let text: Vec<u8> = match case % 4 {
            0 => (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect(),
            1 => base.as_bytes()[..rng.random_range(0..base.len())].to_vec(),
            2 => base
                .replacen("7", ["1e400", "nan", "-inf", "", "\"", "7,7"][case % 6], 1)
                .into_bytes(),
            _ => {
                let mut b = base.clone().into_bytes();
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
                b
            }
        };
        let _ = CsvSeries::from_reader("fuzz.csv", &text[..], &config);
    }
}
