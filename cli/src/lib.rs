//! `portal`, the Admin Portal's command line: one command per route of the HTTP API
//! ([`routes`]), parsed ([`args`]) into a call ([`calls`]), sent ([`client`]), printed
//! ([`output`]) and, with `--wait`, followed ([`wait`]).

pub mod args;
pub mod calls;
pub mod client;
pub mod color;
pub mod config;
pub mod error;
pub mod login;
pub mod output;
pub mod routes;
pub mod wait;

use std::io::Write;
use std::time::Duration;

use clap::CommandFactory;

use args::{Cli, Command, Format, Shell};
use calls::ApiCall;
use client::Client;
use config::{Profiles, Settings};
use error::CliError;
use output::{Doc, View};

/// Runs a parsed command line.
pub async fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Api(_) => match cli.api_call()? {
            Some(call) => api(cli, &call).await,
            None => Ok(()),
        },
        Command::Login(args) => {
            let said = login::login(args, url(cli).as_deref(), &cli.profile, &config::profiles_path()?).await?;
            eprintln!("{said}");
            Ok(())
        }
        Command::Logout => {
            eprintln!("{}", login::logout(&cli.profile, &config::profiles_path()?)?);
            Ok(())
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut Cli::command(), "portal", &mut out);
            emit(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            emit(&out)
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn print(cli: &Cli, view: View, doc: &Doc) -> Result<(), CliError> {
    emit(output::render(cli.output, view, doc, color::for_stream(true))?.as_bytes())
}

/// `--url`, else `PORTAL_URL`.
fn url(cli: &Cli) -> Option<String> {
    cli.url.clone().or_else(|| std::env::var("PORTAL_URL").ok().filter(|u| !u.is_empty()))
}

/// The settings of this command: flags and environment over the profile; a profile's expired
/// Cognito token renewed first.
async fn settings(cli: &Cli) -> Result<Settings, CliError> {
    let env_token = std::env::var("PORTAL_TOKEN").ok().filter(|t| !t.is_empty());
    let url = url(cli);
    let path = config::profiles_path();
    let profiles = match (&path, &env_token) {
        (Ok(p), _) => Profiles::load(p)?,
        (Err(_), Some(_)) => Profiles::default(),
        (Err(e), None) => return Err(CliError::Config(e.to_string())),
    };
    let mut settings = Settings::resolve(url.as_deref(), env_token.clone(), &cli.profile, &profiles)?;
    if env_token.is_none()
        && settings.profile.expired(chrono::Utc::now())
        && let Ok(path) = &path
        && let Some(token) = login::refresh(&cli.profile, path).await?
    {
        settings.token = Some(token);
    }
    Ok(settings)
}

async fn api(cli: &Cli, call: &ApiCall) -> Result<(), CliError> {
    let settings = settings(cli).await?;
    let client = Client::new(&settings, Duration::from_secs(cli.timeout), cli.verbose, cli.retries)?;
    let doc = client.fetch(call).await?;
    let Some(follow) = &call.follow else {
        print(cli, call.view, &doc)?;
        if let (Format::Table, View::List(_), Some(next)) =
            (cli.output, call.view, doc.get("next_token").and_then(|t| t.as_str()))
        {
            eprintln!("(more: --next-token {next}, or --all)");
        }
        return Ok(());
    };
    let id = doc
        .get(follow.id_field)
        .and_then(|v| v.as_str())
        .ok_or_else(|| CliError::Protocol(format!("the answer has no {} to follow", follow.id_field)))?;
    let mut progress = wait::progress_for_stderr(color::for_stream(false));
    let cr = wait::follow(&client, id, &follow.wait, progress.as_mut()).await?;
    match (follow.then_read, doc.get("id").and_then(|v| v.as_str())) {
        (Some(route), Some(record)) => {
            let again = client.fetch(&ApiCall::record(route, &[record])).await?;
            print(cli, View::Record, &again)?;
        }
        _ => print(cli, View::Record, &cr)?,
    }
    wait::outcome(&cr)
}
