//! Small-sample statistics (nearest-rank quantiles over every sample kept) and the
//! machine line every report starts with: cores and load average, since other work may
//! share this machine.

use std::time::Duration;

/// Durations, sorted once collected; quantiles are nearest-rank.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    pub fn new(mut all: Vec<Duration>) -> Samples {
        all.sort_unstable();
        Samples { sorted: all }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Duration> {
        self.sorted.iter()
    }

    /// The nearest-rank `q` quantile (`q` in 0..=1); zero when there are no samples.
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.sorted, q).unwrap_or_default()
    }

    pub fn p50_ms(&self) -> f64 {
        ms(self.quantile(0.50))
    }

    pub fn p95_ms(&self) -> f64 {
        ms(self.quantile(0.95))
    }

    pub fn p99_ms(&self) -> f64 {
        ms(self.quantile(0.99))
    }

    pub fn max_ms(&self) -> f64 {
        ms(self.quantile(1.0))
    }
}

/// Signed offsets (microseconds), e.g. one receiver's time minus another's.
#[derive(Debug, Clone, Default)]
pub struct Offsets {
    sorted: Vec<i64>,
}

impl Offsets {
    pub fn new(mut all: Vec<i64>) -> Offsets {
        all.sort_unstable();
        Offsets { sorted: all }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank `q` quantile in milliseconds; zero when there are no samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile(&self.sorted, q).unwrap_or_default() as f64 / 1000.0
    }
}

fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() as f64 * q.clamp(0.0, 1.0)).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A signed difference `a − b` in microseconds.
pub fn signed_us(a: std::time::Instant, b: std::time::Instant) -> i64 {
    if a >= b {
        i64::try_from((a - b).as_micros()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from((b - a).as_micros()).unwrap_or(i64::MAX)
    }
}

/// The machine the run shares.
pub struct Machine {
    pub cores: usize,
    /// The 1, 5 and 15 minute load averages, when `/proc/loadavg` could be read.
    pub load: Option<[f64; 3]>,
}

impl Machine {
    pub fn now() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load: load_average(),
        }
    }

    /// `2 cores, load average 1.23 0.98 0.80`.
    pub fn describe(&self) -> String {
        match self.load {
            Some([a, b, c]) => format!("{} cores, load average {a:.2} {b:.2} {c:.2}", self.cores),
            None => format!("{} cores, load average unknown", self.cores),
        }
    }
}

fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// `yes`/`NO` next to a target.
pub fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "NO"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let s = Samples::new((1..=20).rev().map(Duration::from_millis).collect());
        assert_eq!(s.quantile(0.5), Duration::from_millis(10));
        assert_eq!(s.quantile(0.95), Duration::from_millis(19));
        assert_eq!(s.quantile(1.0), Duration::from_millis(20));
        assert_eq!(s.quantile(0.0), Duration::from_millis(1));
        assert_eq!(Samples::default().quantile(0.5), Duration::ZERO);
        let o = Offsets::new(vec![3000, -1000, 2000, 1000]);
        assert_eq!(o.quantile_ms(0.5), 1.0);
        assert_eq!(o.quantile_ms(0.0), -1.0);
    }
}

/// CPU time (user + system, in seconds) used so far by the bench process, by the server
/// under test, and by every PostgreSQL process on this machine: what a stream costs in
/// work, which the machine's noise hardly moves, where its latency moves a lot.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub bench: f64,
    pub server: f64,
    pub postgres: f64,
    /// The fake model provider, when it runs in a process of its own.
    pub upstream: f64,
}

impl CpuTimes {
    /// Now, for the server process `server` and the provider's process `upstream`.
    pub fn now(server: u32, upstream: Option<u32>) -> CpuTimes {
        let of = |pid: u32| proc_cpu(&pid.to_string()).map_or(0.0, |(_, s)| s);
        let mut t = CpuTimes {
            bench: proc_cpu("self").map_or(0.0, |(_, s)| s),
            server: of(server),
            postgres: 0.0,
            upstream: upstream.map_or(0.0, of),
        };
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                if let Some((comm, secs)) = proc_cpu(pid) {
                    if comm == "postgres" {
                        t.postgres += secs;
                    }
                }
            }
        }
        t
    }

    /// What was used between `earlier` and `self`. PostgreSQL processes that ended in
    /// between are not counted (the server's pool keeps its connections).
    pub fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            bench: self.bench - earlier.bench,
            server: self.server - earlier.server,
            postgres: (self.postgres - earlier.postgres).max(0.0),
            upstream: self.upstream - earlier.upstream,
        }
    }

    pub fn total(&self) -> f64 {
        self.bench + self.server + self.postgres + self.upstream
    }
}

/// A process's command name and CPU seconds from `/proc/<pid>/stat` (utime + stime, in
/// clock ticks of 1/100 s: Linux reports USER_HZ, which is 100 on every architecture
/// it exports to user space).
fn proc_cpu(pid: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let comm = stat.get(open + 1..close)?.to_string();
    let mut fields = stat.get(close + 2..)?.split_whitespace();
    // After the name: state is field 0 here, utime 11, stime 12.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((comm, (utime + stime) / 100.0))
}
