//! `meshwork`: learn the Istio service mesh hands-on, in the terminal.
//!
//! This file only describes the command line; [`cmd`] carries the commands out.

mod cmd;
mod content;
mod text;

use clap::{Args, CommandFactory, Parser, Subcommand};
use cmd::Global;
use meshwork_checks::TargetSpec;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  meshwork                              open the terminal UI on the bundled reference mesh
  meshwork --target cluster             … on the current kubeconfig context (a live cluster)
  meshwork --context kind-istio         … on another context
  meshwork mesh up                      start the reference mesh; `meshwork mesh --help` for more
  meshwork --open 0/2                   … on lab 00, step 2
  meshwork labs                         list the labs and your progress
  meshwork show prerequisites/cluster   read a step (lab and step by id or number: 0/2)
  meshwork check 0                      run every check of lab 00
  meshwork check 0/2 --json             one step, machine-readable
  meshwork hint 0/2                     reveal the next hint of a step
  meshwork progress reset 0             forget lab 00's progress
  meshwork lint ./my-course             validate lab content while writing it

Exit codes: 0 success, 1 a check failed (or `lint` found problems), 2 the command could not run.";

/// Learn the Istio service mesh hands-on, in the terminal.
///
/// Without a subcommand meshwork opens its terminal UI: pick a lab, read a step, run its
/// commands in another terminal and let meshwork check the result.
#[derive(Debug, Parser)]
#[command(name = "meshwork", version, after_help = EXAMPLES, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    /// Open the terminal UI on this lab or step (`prerequisites`, `0/2`)
    #[arg(long, value_name = "LAB[/STEP]")]
    open: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Read labs/, manifests/ and slides/ from DIR instead of the built-in copy (for lab authors)
    #[arg(long, global = true, value_name = "DIR")]
    content: Option<PathBuf>,
    /// Where checks look: `reference` (the bundled mesh, started when needed), `cluster`
    /// (current kubeconfig context) or `cluster:CONTEXT` [env: MESHWORK_TARGET] [default: the
    /// target last chosen with `t` in the terminal UI, else reference]
    #[arg(long, global = true, value_name = "TARGET", value_parser = TargetSpec::parse)]
    target: Option<TargetSpec>,
    /// Shorthand for `--target cluster:NAME`
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "target")]
    context: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the labs with your progress on the chosen target
    Labs,
    /// Print a lab's overview or one step as text
    Show {
        /// A lab (`prerequisites`, `00`, `0`) or a step (`prerequisites/cluster`, `0/2`)
        #[arg(value_name = "LAB[/STEP]")]
        what: String,
    },
    /// Run the checks of a lab (every step, in order) or of one step
    #[command(after_help = cmd::check::HELP)]
    Check {
        /// A lab (`prerequisites`, `0`) or a step (`prerequisites/cluster`, `0/2`)
        #[arg(value_name = "LAB[/STEP]")]
        what: String,
        /// Print one JSON document (schema below) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Reveal the next hint of a step and print all hints revealed so far
    Hint {
        /// A step: `prerequisites/cluster` or `0/2`
        #[arg(value_name = "LAB/STEP")]
        what: String,
    },
    /// Show which steps are done on the chosen target, or reset them
    Progress {
        #[command(subcommand)]
        action: Option<ProgressAction>,
    },
    /// Write the labs' manifests to the workshop folder and print its path (type the labs'
    /// commands there)
    Workdir {
        /// Print the shell line that points a second terminal at the folder and the target
        #[arg(long)]
        env: bool,
    },
    /// Validate course content: every error with its file, line and field
    Lint {
        /// Content folder (with labs/); default: --content, else the built-in content
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also dry-run every manifest on a scratch reference mesh with Istio (needs kubectl)
        #[arg(long)]
        apply: bool,
    },
    /// Print a shell completion script (e.g. `meshwork completions bash > ~/.local/share/bash-completion/completions/meshwork`)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Start, stop and inspect the bundled reference mesh (up, down, status, env, logs, reset)
    #[command(after_help = cmd::mesh::HELP)]
    Mesh {
        #[command(subcommand)]
        action: cmd::mesh::MeshCommand,
    },
    /// Istio's istioctl commands for the reference mesh (install, version, uninstall)
    #[command(after_help = cmd::istioctl::HELP)]
    Istioctl {
        #[command(subcommand)]
        command: cmd::istioctl::IstioctlCommand,
    },
    /// Explain recent requests hop by hop: route rules matched, upstreams chosen, response flags
    #[command(after_help = cmd::explain::HELP)]
    Explain(cmd::explain::ExplainArgs),
    /// For lab authors: test labs on fresh reference meshes (`meshwork lab test`)
    Lab {
        #[command(subcommand)]
        command: cmd::lab_test::LabCommand,
    },
    /// Print timings for meshwork's performance targets
    Bench {
        /// Runs per measurement
        #[arg(short = 'n', long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        runs: u32,
        /// Measure the reference mesh instead (starts one in a scratch directory; needs kubectl)
        #[arg(long)]
        mesh: bool,
        /// Only certificate rotation under 200 requests/s on the reference mesh (needs kubectl, Envoy)
        #[arg(long, conflicts_with = "mesh")]
        rotation: bool,
        /// The labs' checks on a scratch reference mesh: time per check kind (needs kubectl, Envoy)
        #[arg(long, conflicts_with_all = ["mesh", "rotation"])]
        labs: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ProgressAction {
    /// Forget the progress (done steps, revealed hints) of one lab, or of all labs
    Reset {
        /// Only this lab (default: all labs)
        lab: Option<String>,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.open.is_some() && cli.command.is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--open is for the terminal UI; it cannot be combined with a subcommand",
            )
            .exit();
    }
    let global = Global {
        content: cli.global.content,
        target: cli.global.target,
        context: cli.global.context,
    };
    let result = match cli.command {
        None => cmd::tui::run(&global, cli.open.as_deref(), || {
            Cli::command().render_help().to_string()
        }),
        Some(Command::Labs) => cmd::labs::run(&global),
        Some(Command::Show { what }) => cmd::show::run(&global, &what),
        Some(Command::Check { what, json }) => cmd::check::run(&global, &what, json),
        Some(Command::Hint { what }) => cmd::hint::run(&global, &what),
        Some(Command::Progress { action: None }) => cmd::progress::show(&global),
        Some(Command::Progress {
            action: Some(ProgressAction::Reset { lab, yes }),
        }) => cmd::progress::reset(&global, lab.as_deref(), yes),
        Some(Command::Workdir { env }) => cmd::workshop::run(&global, env),
        Some(Command::Lint { dir, apply }) => {
            cmd::lint::run(&global, dir.as_deref(), apply, &Cli::command())
        }
        Some(Command::Completions { shell }) => cmd::completions::run(shell, &mut Cli::command()),
        Some(Command::Mesh { action }) => cmd::mesh::dispatch(action),
        Some(Command::Bench {
            runs,
            mesh,
            rotation,
            labs,
        }) => cmd::bench::run(&global, runs, mesh, rotation, labs),
        Some(Command::Istioctl { command }) => cmd::istioctl::dispatch(&global, command),
        Some(Command::Explain(args)) => cmd::explain::run(&global, &args),
        Some(Command::Lab { command }) => cmd::lab_test::dispatch(&global, command),
    };
    cmd::finish(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn context_and_target_cannot_both_be_given() {
        let err =
            Cli::try_parse_from(["meshwork", "--target", "cluster", "--context", "x", "labs"])
                .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn a_bad_target_is_refused_by_the_parser() {
        let err = Cli::try_parse_from(["meshwork", "labs", "--target", "kind"]).unwrap_err();
        assert!(err.to_string().contains("unknown target `kind`"), "{err}");
    }
}
