//! Median and spread of per-round figures, shared by the benches.

/// Median and sample standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) sigma: f64,
}

impl Spread {
    pub(crate) fn of(values: &[f64]) -> Spread {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Spread::default();
        }
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let sigma = if n < 2 {
            0.0
        } else {
            let mean = v.iter().sum::<f64>() / n as f64;
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Spread { median, sigma }
    }

    pub(crate) fn show(&self, decimals: usize) -> String {
        if self.sigma > 0.0 {
            format!("{:.*} ± {:.*}", decimals, self.median, decimals, self.sigma)
        } else {
            format!("{:.*}", decimals, self.median)
        }
    }
}
