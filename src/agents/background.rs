//! Draining the spool behind a hook's back.
//!
//! A hook must return at once, so the drain that turns its event into an
//! atom runs in another process. Starting that process by `exec` of atom
//! again costs a hook about as much as the rest of its work (the kernel maps
//! the binary, the dynamic loader relocates it, and `posix_spawn` holds the
//! parent until the child has done so). A `fork` of the hook itself is a
//! fraction of that: the child shares the loaded binary and drains in
//! process. It leaves the hook's session and process group first (an agent
//! that kills a slow hook's group does not stop it), and puts `/dev/null`
//! in place of stdin, stdout and stderr, so that an agent reading the hook's
//! output until end of file is not held up by the drain.
//!
//! The forked drain also publishes the hook's event (its fsyncs are most of
//! what the hook would otherwise wait for), holding the drain lock from
//! before the fork, so that nothing reads the store without the event.
//!
//! The fork happens only from a process with one thread (the hook's), where
//! the child may go on running ordinary code; anywhere else, and when the
//! fork fails, the drain is started as `atom agents drain` instead. The hook
//! does not wait for its child: it exits next, and the drain, left to init,
//! is never a zombie of a process that runs on.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::spool::{DrainLock, Staged};
use crate::trail::Trail;

/// How long a background drain waits for another drainer before leaving the
/// spool to it.
const WAIT: Duration = Duration::from_secs(30);

/// Publish the event a hook `staged` and record it in the background; the
/// hook exits next, without waiting for its child. When the spool is free
/// and this process can fork, the forked drain publishes it (fsync, rename,
/// fsync the directory) holding the drain lock, taken before the fork so
/// that a command reading the store meanwhile waits for it: the hook does
/// not wait for the disk. When another drain holds the lock, the hook
/// publishes the event and leaves it to that drain, which looks at the
/// spool again after letting go. Without a fork, the hook publishes it and
/// starts `atom agents drain`. An error is a publish that failed here (the
/// event is not spooled); one that fails in the forked drain leaves an
/// orphan the next drain adopts.
pub fn hand_over(home: &Path, staged: Staged) -> std::io::Result<()> {
    if !one_thread() {
        staged.publish()?;
        if !DrainLock::busy(home) {
            spawn_drain(home);
        }
        return Ok(());
    }
    let Some(lock) = DrainLock::try_acquire(home) else {
        return staged.publish().map(drop);
    };
    // SAFETY: this process has one thread, so the child is a complete copy
    // of it and may run any code before `_exit`.
    match unsafe { libc::fork() } {
        -1 => {
            drop(lock);
            staged.publish()?;
            spawn_drain(home);
            Ok(())
        }
        0 => {
            detach();
            if staged.publish().is_ok() {
                if let Ok(trail) = Trail::open(home) {
                    let _ = super::record::drain_holding(&trail, Some(lock), WAIT);
                }
            }
            // SAFETY: ends the process without running the parent's exit
            // handlers or flushing buffers it shares with it.
            unsafe { libc::_exit(0) }
        }
        // The child holds the lock (the same open file): closing this copy
        // does not release it.
        _ => Ok(()),
    }
}

/// Whether this process runs one thread (Linux: `/proc/self/stat`'s 20th
/// field), the condition for a child of `fork` to run ordinary code.
fn one_thread() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return false;
    };
    // The command name (field 2) is in parentheses and may hold spaces.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    // `rest` starts at field 3: the thread count is field 20.
    rest.split_whitespace().nth(17) == Some("1")
}

/// In the child: a session of its own, and `/dev/null` for stdio.
fn detach() {
    // SAFETY: plain system calls on this process's own descriptors.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// Start `atom agents drain` as a process of its own group.
fn spawn_drain(home: &Path) {
    use std::os::unix::process::CommandExt as _;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = Command::new(exe)
        .arg("--store")
        .arg(home)
        .args(["-q", "agents", "drain"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_threads_of_this_process() {
        // The test harness runs tests on threads of its own: more than one.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        assert!(!one_thread(), "a second thread is running");
        drop(tx);
        let _ = t.join();
    }
}
