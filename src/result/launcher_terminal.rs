//! Whether the person who started the job watches a terminal, seen from rank 0.
//!
//! Under `mpirun` (or MPICH's `mpiexec`) rank 0's stderr is a pipe to the launcher, which copies
//! it to its own stderr: a terminal, in an interactive run. So rank 0 looks up its ancestors
//! while they are MPI launchers or their daemons and their stderr is a pipe or socket; the first
//! one whose stderr is a terminal is the person's terminal, and progress bars are drawn through
//! the pipe ([`PipedTerminal`]). A launcher whose stderr is a file or a pipe into another
//! program (`mpirun … 2> log`, `| tee`) gives no terminal, and a program not started by a
//! launcher only counts its own stderr.

use std::io::{self, Write};
use std::path::PathBuf;

/// Processes that start MPI ranks and forward their output (Open MPI, PRRTE, MPICH's Hydra).
const LAUNCHERS: &[&str] = &[
    "mpirun",
    "mpiexec",
    "orterun",
    "orted",
    "prterun",
    "prted",
    "mpiexec.hydra",
    "mpiexec.mpich",
    "mpirun.mpich",
    "mpiexec.openmpi",
    "mpirun.openmpi",
    "hydra_pmi_proxy",
];

/// What a process's stderr (descriptor 2) is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stderr {
    /// A terminal device (`/dev/pts/N`, `/dev/ttyN`).
    Terminal(PathBuf),
    /// A pipe or socket (to a launcher, or into another program).
    Pipe,
    /// A file, `/dev/null`, or unreadable.
    Other,
}

impl Stderr {
    /// Classifies the target of a `/proc/PID/fd/2` link.
    pub(crate) fn of_link(target: &str) -> Stderr {
        if target.starts_with("/dev/pts/") || target.starts_with("/dev/tty") {
            Stderr::Terminal(PathBuf::from(target))
        } else if target.starts_with("pipe:") || target.starts_with("socket:") {
            Stderr::Pipe
        } else {
            Stderr::Other
        }
    }
}

/// One process above rank 0: its command name and its stderr.
#[derive(Clone, Debug)]
pub(crate) struct Ancestor {
    pub command: String,
    pub stderr: Stderr,
}

/// The launcher's terminal, given this process's stderr and its ancestors from the parent up:
/// found when every process between here and a launcher with a terminal stderr is a launcher
/// whose stderr is a pipe.
pub(crate) fn terminal_above(own: &Stderr, ancestors: &[Ancestor]) -> Option<PathBuf> {
    if *own != Stderr::Pipe {
        return None;
    }
    for a in ancestors {
        if !LAUNCHERS.contains(&a.command.as_str()) {
            return None;
        }
        match &a.stderr {
            Stderr::Terminal(path) => return Some(path.clone()),
            Stderr::Pipe => continue,
            Stderr::Other => return None,
        }
    }
    None
}

/// The terminal of the launcher that started this process, if it has one: looked up once (every
/// wait with progress asks, and the launcher does not change).
pub(crate) fn launcher_terminal() -> Option<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND.get_or_init(find_launcher_terminal).clone()
}

/// Looks for the launcher's terminal up this process's ancestors (Linux `/proc`).
fn find_launcher_terminal() -> Option<PathBuf> {
    let own = stderr_of("self");
    let mut ancestors = Vec::new();
    let mut pid = parent_of("self")?;
    // Launchers nest a few deep at most (mpiexec → hydra_pmi_proxy → rank).
    while pid > 1 && ancestors.len() < 6 {
        let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        ancestors.push(Ancestor {
            command: command.trim().to_string(),
            stderr: stderr_of(&pid.to_string()),
        });
        pid = parent_of(&pid.to_string())?;
    }
    terminal_above(&own, &ancestors)
}

fn stderr_of(pid: &str) -> Stderr {
    match std::fs::read_link(format!("/proc/{pid}/fd/2")) {
        Ok(target) => Stderr::of_link(&target.to_string_lossy()),
        Err(_) => Stderr::Other,
    }
}

fn parent_of(pid: &str) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the parenthesised command: state, ppid, ...
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The width of terminal `path` (`COLUMNS`, or 80, where it cannot be asked).
pub(crate) fn width_of(path: &std::path::Path) -> u16 {
    let asked = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .ok()
        .and_then(|tty| {
            use std::os::fd::AsRawFd;
            let mut size = libc::winsize {
                ws_row: 0,
                ws_col: 0,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCGWINSZ writes one `winsize` into `size`, which lives across the call;
            // the descriptor is open for the call's duration.
            let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
            (rc == 0 && size.ws_col > 0).then_some(size.ws_col)
        });
    asked
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(80)
}

/// A terminal reached through this process's stderr pipe: indicatif draws with ANSI escapes,
/// which the launcher copies to the terminal as they are.
#[derive(Debug)]
pub(crate) struct PipedTerminal {
    pub width: u16,
}

impl PipedTerminal {
    fn put(&self, s: &str) -> io::Result<()> {
        io::stderr().write_all(s.as_bytes())
    }

    /// Moves the cursor `n` places in `direction` (the ANSI letter: A up, B down, C right, D
    /// left); nothing for 0.
    fn move_cursor(&self, n: usize, direction: char) -> io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}{direction}"))
        } else {
            Ok(())
        }
    }
}

impl indicatif::TermLike for PipedTerminal {
    fn width(&self) -> u16 {
        self.width
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.put(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.put(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.put("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(command: &str, link: &str) -> Ancestor {
        Ancestor {
            command: command.into(),
            stderr: Stderr::of_link(link),
        }
    }

    #[test]
    fn a_launcher_on_a_terminal_is_found_through_pipes() {
        let pipe = Stderr::of_link("pipe:[1234]");
        // Open MPI on one node: rank 0 → mpirun.
        let tty = terminal_above(
            &pipe,
            &[up("mpirun", "/dev/pts/3"), up("bash", "/dev/pts/3")],
        );
        assert_eq!(tty, Some(PathBuf::from("/dev/pts/3")));
        // MPICH: rank 0 → hydra_pmi_proxy (socket) → mpiexec.hydra.
        let chain = [
            up("hydra_pmi_proxy", "socket:[99]"),
            up("mpiexec.hydra", "/dev/tty1"),
        ];
        assert_eq!(
            terminal_above(&pipe, &chain),
            Some(PathBuf::from("/dev/tty1"))
        );
    }

    #[test]
    fn files_other_programs_and_own_stderr_say_no() {
        let pipe = Stderr::of_link("pipe:[1]");
        // mpirun … 2> log: the launcher writes a file.
        assert_eq!(terminal_above(&pipe, &[up("mpirun", "/tmp/log")]), None);
        // mpirun … |& tee log: a pipe into another program, whose shell has the terminal.
        let tee = [up("mpirun", "pipe:[7]"), up("bash", "/dev/pts/0")];
        assert_eq!(terminal_above(&pipe, &tee), None);
        // Not started by a launcher: a pipe into a program of the user's, not a terminal.
        assert_eq!(terminal_above(&pipe, &[up("python3", "/dev/pts/0")]), None);
        // Our own stderr is a file: never draw into it.
        let file = Stderr::of_link("/home/u/run.log");
        assert_eq!(terminal_above(&file, &[up("mpirun", "/dev/pts/0")]), None);
        assert_eq!(Stderr::of_link("/dev/null"), Stderr::Other);
    }
}
