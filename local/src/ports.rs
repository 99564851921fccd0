//! Is a TCP port free, and if not, who holds it (from `/proc/net/tcp*` and `/proc/*/fd`).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::error::{Error, Result};

/// A port the stack needs, and what for (named in errors).
#[derive(Debug, Clone, Copy)]
pub struct NeededPort {
    pub port: u16,
    pub purpose: &'static str,
}

/// Fails on the first busy port, naming it and its holder.
pub fn ensure_free(ports: &[NeededPort]) -> Result<()> {
    for needed in ports {
        if !is_free(needed.port) {
            return Err(Error::PortBusy {
                port: needed.port,
                purpose: needed.purpose,
                holder: holder(needed.port),
            });
        }
    }
    Ok(())
}

/// True when nothing listens on the port on any interface. Binding 0.0.0.0 fails when any
/// listener holds the port, whichever address it is bound to (std sets SO_REUSEADDR, so
/// connections in TIME_WAIT do not count).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

/// True when a TCP connection to 127.0.0.1:`port` succeeds within 500 ms.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// "process 1234 (java: org.apache.cassandra.service.CassandraDaemon …)", or why it is unknown.
pub fn holder(port: u16) -> String {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return "another program (no listening socket found: maybe it is still starting or shutting down)".into();
    }
    match find_process(&inodes) {
        Some(pid) => describe_process(pid),
        None => "a process this user cannot see (try `sudo ss -ltnp`)".into(),
    }
}

/// The socket inodes listening on `port` (any address), from `/proc/net/tcp` and `tcp6`.
fn listening_inodes(port: u16) -> Vec<u64> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(text.lines().skip(1).filter_map(|line| parse_listener(line, port)));
    }
    inodes
}

/// The inode of a `/proc/net/tcp` line when it is a listener (state 0A) on `port`.
fn parse_listener(line: &str, port: u16) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = fields.get(1)?;
    let state = fields.get(3)?;
    let inode = fields.get(9)?;
    let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
    (*state == "0A" && local_port == port)
        .then(|| inode.parse().ok())
        .flatten()
}

fn find_process(inodes: &[u64]) -> Option<u32> {
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let procs = std::fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && wanted.iter().any(|w| target.as_os_str() == w.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// "process 1234 (java: -Xms256m … CassandraDaemon)" with the command line shortened.
pub fn describe_process(pid: u32) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut command = args.join(" ");
    if command.chars().count() > 160 {
        // Keep the start (the program) and the end (for a JVM, its main class and arguments).
        let head: String = command.chars().take(60).collect();
        let tail: String = command
            .chars()
            .rev()
            .take(90)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        command = format!("{head} … {tail}");
    }
    format!("process {pid} ({}: {command})", comm.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_listener_line() {
        let line = "   1: 0100007F:2352 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0";
        assert_eq!(parse_listener(line, 9042), Some(123456));
        assert_eq!(parse_listener(line, 9043), None);
        let established = line.replace(" 0A ", " 01 ");
        assert_eq!(parse_listener(&established, 9042), None);
    }

    #[test]
    fn a_busy_port_is_reported_with_this_process_as_holder() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(!is_free(port));
        let error = ensure_free(&[NeededPort { port, purpose: "test" }]).expect_err("busy");
        let text = error.to_string();
        assert!(text.contains(&format!("port {port} (test)")), "{text}");
        assert!(text.contains(&format!("process {}", std::process::id())), "{text}");
        drop(listener);
        assert!(is_free(port));
    }
}
