//! The command-line options after `cargo bench --bench throughput --`.

pub struct Options {
    pub n: usize,
    pub reps: usize,
    pub setup_reps: usize,
    pub rss_check: bool,
    pub only: Option<Vec<String>>,
}

pub fn parse_options(args: &[String]) -> Options {
    let mut options = Options {
        n: 200_000,
        reps: 5,
        setup_reps: 2_000,
        rss_check: true,
        only: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("option needs a value").clone();
        match arg.as_str() {
            "-n" | "--tokens" => options.n = value().replace('_', "").parse().expect("-n N"),
            "--reps" => options.reps = value().parse().expect("--reps R"),
            "--setup-reps" => options.setup_reps = value().parse().expect("--setup-reps S"),
            "--no-rss-check" => options.rss_check = false,
            "--only" => options.only = Some(value().split(',').map(str::to_owned).collect()),
            // Added by `cargo bench`.
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    assert!(
        (1..=1_000_000).contains(&options.n),
        "N must be in 1..=1,000,000"
    );
    options.reps = options.reps.max(1);
    options
}
