//! A process's memory and CPU time from `/proc`, for the memory checks of the e2e tests, the
//! soak run and the load bench.

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now, in KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size so far (high-water mark), in KiB.
    pub peak_kib: u64,
}

/// Reads the resident memory of `pid`; panics if the process is gone, since a memory check of
/// a process that died must not pass.
pub fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    parse_status(&status).unwrap_or_else(|| panic!("no VmRSS/VmHWM in /proc/{pid}/status"))
}

fn parse_status(status: &str) -> Option<Memory> {
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find_map(|l| l.strip_prefix(key))?;
        line.split_whitespace().next()?.parse().ok()
    };
    Some(Memory {
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}

/// User plus system CPU time of `pid` so far, in clock ticks (`getconf CLK_TCK` per second).
pub fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // The command name in parentheses may hold spaces: fields are counted after its `)`.
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of the line; `rest` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_resident_and_peak_kib() {
        let status =
            "Name:\tenvoy\nVmPeak:\t  900000 kB\nVmHWM:\t   91234 kB\nVmRSS:\t   80100 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss_kib: 80100,
                peak_kib: 91234
            })
        );
        assert_eq!(parse_status("Name:\tenvoy\nVmRSS:\t 1 kB\n"), None);
    }

    #[test]
    fn this_process_has_resident_memory_and_cpu_time() {
        let m = memory(std::process::id());
        assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib, "{m:?}");
        let _ = cpu_ticks(std::process::id());
    }
}
