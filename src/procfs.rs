//! What Linux's `/proc` says of a process: its peak resident memory and the CPU time it has
//! used. Benchmarks print these (for warden and for its Python workers); elsewhere than Linux
//! they are `None`.

/// `/proc/self/...` for `None`, `/proc/<pid>/...` for a process id.
fn read(pid: Option<u32>, file: &str) -> Option<String> {
    let pid = pid.map_or_else(|| "self".to_owned(), |p| p.to_string());
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()
}

/// The peak resident set (`VmHWM`), in KiB.
pub fn peak_rss_kb(pid: Option<u32>) -> Option<u64> {
    read(pid, "status")?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU time used, user and system, in seconds. `/proc` counts it in clock ticks, which
/// Linux fixes at 100 a second for user space.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = read(pid, "stat")?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_has_a_peak_and_a_cpu_time() {
        assert!(super::peak_rss_kb(None).unwrap() > 0);
        let spin = std::time::Instant::now();
        while spin.elapsed().as_millis() < 30 {
            std::hint::black_box(0);
        }
        assert!(super::cpu_seconds(None).unwrap() > 0.0);
        assert!(super::cpu_seconds(Some(std::process::id())).is_some());
    }
}
