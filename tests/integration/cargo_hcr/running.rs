//! A program run in a process group of its own, read line by line, for
//! the tests that start `cargo hcr run` or a host and stop it themselves.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a step may take: the first one may build every dependency
/// (for Windows, too), and wine may set up its prefix.
const PATIENCE: Duration = Duration::from_secs(900);

/// A program running in a process group of its own (wine starts helpers),
/// its stdout read line by line and its stderr kept; the group is killed
/// when this is dropped.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `command`.
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .env("WINEDEBUG", "-all")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let stdout = child.stdout.take().expect("piped");
        let mut err_pipe = child.stderr.take().expect("piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read @ 1..) = err_pipe.read(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..read]);
                kept.lock().unwrap().push_str(&text);
            }
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to a minute for `done` to hold of what it printed on
    /// stderr so far; whether it did.
    pub fn wait_for_stderr(&self, done: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(&self.stderr()) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Waits up to a minute for it to end; how it ended.
    pub fn exit_status(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("its status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "it did not end; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to a minute for `text` on stderr; panics showing stderr
    /// when it does not come.
    pub fn stderr_says(&self, text: &str) {
        let said = self.wait_for_stderr(|stderr| stderr.contains(text));
        assert!(said, "{text:?} not in\n{}", self.stderr());
    }

    /// The next line of stdout, or a panic showing stderr when none comes
    /// in time.
    pub fn next_line(&self, waiting_for: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no line came while waiting for {waiting_for}; stderr:\n{}",
                self.stderr()
            )
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = libc::pid_t::try_from(self.child.id()).expect("a pid fits");
        // SAFETY: kill(2) with a negative pid signals the process group
        // `process_group(0)` made for the child; it touches no memory.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
