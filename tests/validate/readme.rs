//! Issue 17: every `warden …` command in the README's shell blocks that needs no running server
//! runs as written from the repository root (in a copy of it, so nothing is written into the
//! checkout), with `warden` on the `PATH`: no usage error, no missing file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Commands that need a server, a long time or the network: shown, not run here (their own
/// tests cover them).
const NOT_RUN: &[&str] = &["serve", "worker", "demo", "runs", "alerts", "bench", "sim"];

/// Exit code each command may end with when it works (`check` reports what is unset with 1).
fn expected_exit(command: &str) -> &'static [i32] {
    match command {
        "check" => &[1],
        _ => &[0],
    }
}

/// The `warden …` lines of the README's ```sh blocks (continuations joined).
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        if !in_shell {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\'));
        if line.ends_with('\\') {
            continue;
        }
        let command = std::mem::take(&mut pending);
        if command.trim_start().starts_with("warden ") {
            commands.push(command.trim().to_owned());
        }
    }
    commands
}

/// The repository's tracked files (no `target/`) copied to a temporary directory.
fn copy_of_repository() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-readme-{}", std::process::id()));
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "git ls-files");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = Path::new(std::str::from_utf8(file).unwrap());
        if !file.exists() {
            continue; // deleted in the working tree
        }
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(file, &to).unwrap();
    }
    dir
}

#[test]
fn readme_commands_run_as_written() {
    let commands = readme_commands();
    assert!(commands.len() >= 10, "{commands:?}");
    let root = copy_of_repository();
    let bin = root.join(".bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_warden"), bin.join("warden")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for command in &commands {
        let sub = command.split_whitespace().nth(1).unwrap_or_default();
        if NOT_RUN.contains(&sub) || command.contains('<') {
            continue;
        }
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(command)
            .current_dir(&root)
            .env("PATH", &path);
        for (key, _) in std::env::vars() {
            if key.starts_with("WARDEN_") {
                shell.env_remove(key);
            }
        }
        let output = shell.output().unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let code = output.status.code().unwrap_or(-1);
        assert!(
            expected_exit(sub).contains(&code),
            "`{command}` exited {code}:\n{printed}"
        );
        assert!(
            !printed.contains("no such file or directory"),
            "`{command}`:\n{printed}"
        );
        ran += 1;
    }
    std::fs::remove_dir_all(&root).unwrap();
    assert!(ran >= 8, "only {ran} README commands ran");
}
