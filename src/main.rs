use std::process::ExitCode;

use caltrace::auth::UserRole;
use caltrace::config::AppConfig;
use caltrace::db::audit::Actor;
use caltrace::db::{self, Database};
use caltrace::domain::people::Profile;
use caltrace::workflow;
use caltrace::workflow::competence::Competence;
use clap::{Parser, Subcommand};

/// caltrace: calibration records, uncertainty, traceability and certificates.
#[derive(Parser)]
#[command(name = "caltrace", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations and start the service (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Seed a realistic demo laboratory into the configured database.
    Demo,
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Import CSV (docs/csv-import.md): all rows or none, every bad row reported.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Export as CSV.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// The laboratory's signing identity: issued DCCs are signed with it (XAdES).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check a signed certificate file (PDF or DCC) offline: signature, document unchanged,
    /// certificate path to a trusted root at the signing time. Exit 0 only when all hold.
    Verify {
        /// The PDF or DCC XML file.
        file: std::path::PathBuf,
        /// Trusted root certificates (PEM); without it, the roots of this lab's own signing
        /// identities in the configured database.
        #[arg(long, value_name = "ROOT.pem")]
        trust: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a demo PKI (root CA, intermediate CA, signing certificate naming lab.name) and
    /// sign certificates with it from now on. Only the signing key is kept.
    Init {
        /// Replace the signing identity installed now.
        #[arg(long)]
        replace: bool,
    },
    /// Install the lab's own ECDSA P-256 key and its certificate (PEM files, or one PKCS#12
    /// file); checked first: the key must match the certificate, which must be current and
    /// lead up the chain given.
    Import {
        /// The private key (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, unencrypted).
        #[arg(long, value_name = "KEY.pem", required_unless_present = "pkcs12")]
        key: Option<std::path::PathBuf>,
        /// The signing certificate (its chain may follow it in the same file).
        #[arg(long, value_name = "CERT.pem", required_unless_present = "pkcs12")]
        certificate: Option<std::path::PathBuf>,
        /// The CA certificates above it, up to the root.
        #[arg(long, value_name = "CHAIN.pem")]
        chain: Option<std::path::PathBuf>,
        /// Key, certificate and chain in one PKCS#12 file (.p12/.pfx); its password is read
        /// from standard input, never from the command line.
        #[arg(long, value_name = "FILE.p12", conflicts_with_all = ["key", "certificate", "chain"])]
        pkcs12: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Register instruments from a CSV file (`-` reads standard input).
    Instruments {
        file: String,
        /// Record the change under this user (admin or technician) instead of caltrace-cli.
        #[arg(long = "as", value_name = "USER")]
        as_user: Option<String>,
    },
    /// Record calibration results from a CSV file, one row per measurement point.
    Calibrations {
        file: String,
        /// The technician the calibrations are recorded under (four eyes: another user approves).
        #[arg(long = "as", value_name = "USER")]
        as_user: String,
        /// Submit them for approval at once instead of leaving drafts.
        #[arg(long)]
        submit: bool,
        /// Import the file even though the same file (same SHA-256) was imported before.
        #[arg(long)]
        again: bool,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// The instrument register, in the import format (to FILE, or `-`/nothing for stdout).
    Instruments {
        #[arg(default_value = "-")]
        file: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with one or more roles (admin, technician, approver, inspector, auditor,
    /// customer).
    Add {
        name: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The name printed where the user signs (an approver's certificates).
        #[arg(long = "full-name")]
        full_name: Option<String>,
        /// The title printed under it, e.g. "Head of the pressure laboratory".
        #[arg(long)]
        title: Option<String>,
        /// Binds a `customer` user to this customer (code), or scopes an `inspector` to it;
        /// repeat for an inspector who sees several customers.
        #[arg(long = "customer")]
        customers: Vec<String>,
    },
    /// Set a user's password for the web pages; reads it from the first line of stdin.
    /// Ends the user's sessions and revokes their tokens.
    Password { name: String },
    /// Disable a user: no login from now on, every session ended, every token revoked.
    Disable { name: String },
    /// Record a competence authorisation (ISO/IEC 17025 6.2.5): the activity a user may
    /// perform on a quantity kind, optionally only under one procedure, over a period.
    Authorise {
        name: String,
        /// calibrate or approve.
        #[arg(long)]
        activity: String,
        /// A quantity kind of the units catalogue (pressure, temperature, voltage, …).
        #[arg(long = "quantity-kind")]
        quantity_kind: String,
        /// Only calibrations citing this procedure code are covered.
        #[arg(long)]
        procedure: Option<String>,
        /// First valid day, YYYY-MM-DD (today when left out).
        #[arg(long)]
        from: Option<String>,
        /// Last valid day, inclusive, YYYY-MM-DD (open-ended when left out).
        #[arg(long)]
        until: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user; the token is printed once, alone on the last line.
    Create { name: String },
    /// Revoke a token by its id.
    Revoke { token_id: i64 },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; with --head, also that the log still contains that head
    /// (e.g. the hash printed on a certificate), so truncation is caught.
    Verify {
        #[arg(long)]
        head: Option<String>,
    },
}

fn open_database() -> Result<Database, String> {
    let config = AppConfig::from_figment(&caltrace::figment())?;
    Database::open(&config.database_url, 2, 1)
}

/// Runs one command. Each command that does more than a line or two is a function of its
/// own below, so this reads as the list of what the binary can do.
fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Import { command } => import(command),
        Command::Export {
            command: ExportCommand::Instruments { file },
        } => {
            let database = open_database()?;
            let summary = caltrace::import::run_export(&database, &file)?;
            eprintln!("{summary}");
            Ok(())
        }
        Command::Serve => {
            let result = rocket::execute(caltrace::rocket(caltrace::figment()).launch());
            result.map(|_| ()).map_err(|error| error.to_string())
        }
        Command::Migrate => {
            open_database()?;
            println!("migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    roles,
                    full_name,
                    title,
                    customers,
                },
        } => add_user(&name, &roles, Profile { full_name, title }, &customers),
        Command::User {
            command: UserCommand::Password { name },
        } => set_password(&name),
        Command::User {
            command: UserCommand::Disable { name },
        } => disable_user(&name),
        Command::User {
            command:
                UserCommand::Authorise {
                    name,
                    activity,
                    quantity_kind,
                    procedure,
                    from,
                    until,
                },
        } => authorise(
            &name,
            caltrace::domain::competence::AuthorisationInput {
                activity,
                quantity_kind,
                procedure,
                from: cli_date("--from", from)?,
                until: cli_date("--until", until)?,
            },
        ),
        Command::Token {
            command: TokenCommand::Create { name },
        } => create_token(&name),
        Command::Token {
            command: TokenCommand::Revoke { token_id },
        } => revoke_token(token_id),
        Command::Demo => demo(),
        Command::Keys { command } => keys(command),
        Command::Verify { file, trust } => verify_file(&file, trust.as_deref()),
        Command::Audit {
            command: AuditCommand::Verify { head },
        } => verify_audit(head),
    }
}

fn import(command: ImportCommand) -> Result<(), String> {
    let (kind, file, as_user) = match command {
        ImportCommand::Instruments { file, as_user } => {
            (caltrace::import::ImportKind::Instruments, file, as_user)
        }
        ImportCommand::Calibrations {
            file,
            as_user,
            submit,
            again,
        } => (
            caltrace::import::ImportKind::Calibrations {
                submit,
                again,
                competence: Competence::from_flag(
                    AppConfig::from_figment(&caltrace::figment())?
                        .lab
                        .require_authorisations,
                ),
            },
            file,
            Some(as_user),
        ),
    };
    let database = open_database()?;
    let summary = caltrace::import::run_import(&database, kind, &file, as_user.as_deref())?;
    println!("{summary}");
    Ok(())
}

fn add_user(
    name: &str,
    roles: &[String],
    profile: Profile,
    customers: &[String],
) -> Result<(), String> {
    let roles = roles
        .iter()
        .map(|role| {
            UserRole::parse(role).ok_or_else(|| {
                format!(
                    "unknown role '{role}': use admin, technician, approver, inspector, auditor or customer"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let user = workflow::users::create_user(
        &mut conn,
        &Actor::command_line(),
        name,
        &roles,
        &profile,
        customers,
    )
    .map_err(|e| e.to_string())?;
    let names: Vec<&str> = user.roles.iter().map(|role| role.name()).collect();
    let scope = match customers {
        [] => String::new(),
        codes => format!(", customers {}", codes.join(", ")),
    };
    println!(
        "user {} created (id {}, roles {}{scope})",
        user.name,
        user.id,
        names.join(", ")
    );
    Ok(())
}

/// Reads the password from stdin, so that it stays out of the shell history and the process list.
fn disable_user(name: &str) -> Result<(), String> {
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    db::users::disable_user(&mut conn, &Actor::command_line(), name).map_err(|e| e.to_string())?;
    println!("user {name} disabled: sessions ended, tokens revoked");
    Ok(())
}

fn cli_date(flag: &str, text: Option<String>) -> Result<Option<chrono::NaiveDate>, String> {
    text.map(|text| {
        text.parse()
            .map_err(|_| format!("{flag} '{text}' is not a date: write YYYY-MM-DD"))
    })
    .transpose()
}

fn authorise(
    name: &str,
    input: caltrace::domain::competence::AuthorisationInput,
) -> Result<(), String> {
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let today = chrono::Utc::now().date_naive();
    let stored =
        workflow::competence::authorise(&mut conn, &Actor::command_line(), name, &input, today)
            .map_err(|error| match error {
                caltrace::error::ApiError::Validation(fields) => fields
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("\n"),
                other => other.to_string(),
            })?;
    let until = stored
        .until
        .map_or("further notice".to_string(), |d| d.to_string());
    let procedure = stored
        .procedure
        .map(|code| format!(" under procedure {code}"))
        .unwrap_or_default();
    println!(
        "authorisation {} recorded: {name} may {} {}{procedure} from {} until {until}",
        stored.id, stored.activity, stored.quantity_kind, stored.from
    );
    Ok(())
}

fn set_password(name: &str) -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    workflow::users::set_password(&mut conn, &Actor::command_line(), name, password)
        .map_err(|e| e.to_string())?;
    println!("password set for {name}");
    Ok(())
}

fn create_token(name: &str) -> Result<(), String> {
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let (id, token) = db::users::create_token(&mut conn, &Actor::command_line(), name)
        .map_err(|e| e.to_string())?;
    println!("token id {id} for user {name}; it is shown only once:");
    println!("{token}");
    Ok(())
}

fn revoke_token(token_id: i64) -> Result<(), String> {
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    db::users::revoke_token(&mut conn, &Actor::command_line(), token_id)
        .map_err(|e| e.to_string())?;
    println!("token {token_id} revoked");
    Ok(())
}

fn read_pem(path: &std::path::Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// Installs a signing identity and says which, by subject, fingerprint and end of validity;
/// never the key.
fn keys(command: KeysCommand) -> Result<(), String> {
    let config = AppConfig::from_figment(&caltrace::figment())?;
    let database = Database::open(&config.database_url, 2, 1)?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let summary = match command {
        KeysCommand::Init { replace } => {
            let context = workflow::certificates::IssueContext::from_config(&config);
            let pki = workflow::signing::init_demo(
                &mut conn,
                &Actor::command_line(),
                &context,
                replace,
                now,
            )
            .map_err(|e| e.to_string())?;
            println!("demo PKI made; its CA keys were not kept");
            pki.identity.summary()
        }
        KeysCommand::Import {
            key,
            certificate,
            chain,
            pkcs12: None,
        } => {
            let (Some(key), Some(certificate)) = (key, certificate) else {
                return Err("give --key and --certificate, or --pkcs12".into());
            };
            let key_pem = zeroize::Zeroizing::new(read_pem(&key, "key")?);
            let certificate_pem = read_pem(&certificate, "certificate")?;
            let chain_pem = chain
                .as_deref()
                .map(|path| read_pem(path, "chain"))
                .transpose()?;
            workflow::signing::import(
                &mut conn,
                &Actor::command_line(),
                &key_pem,
                &certificate_pem,
                chain_pem.as_deref(),
                now,
            )
            .map_err(|e| format!("nothing installed: {e}"))?
        }
        KeysCommand::Import {
            pkcs12: Some(file), ..
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| format!("cannot read the PKCS#12 file {}: {e}", file.display()))?;
            let password = password_from_stdin()?;
            workflow::signing::import_pkcs12(
                &mut conn,
                &Actor::command_line(),
                &bytes,
                &password,
                now,
            )
            .map_err(|e| format!("nothing installed: {e}"))?
        }
    };
    println!("signing identity installed: {}", summary.subject);
    println!("  issued by    {}", summary.issuer);
    println!("  valid until  {}", summary.not_after.to_rfc3339());
    println!("  SHA-256      {}", summary.fingerprint_sha256);
    for subject in &summary.chain_subjects {
        println!("  chain        {subject}");
    }
    println!("DCCs issued from now on are signed; GET /api/v1/lab/trust serves the certificates to trust");
    Ok(())
}

/// The first line of standard input (a pipe or a typed line), without its line end: a
/// password on the command line would be in the shell history and the process list.
fn password_from_stdin() -> Result<zeroize::Zeroizing<String>, String> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the PKCS#12 password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    Ok(zeroize::Zeroizing::new(password))
}

/// Seeds the demo laboratory and prints how to get in: a token and a web login per role.
fn demo() -> Result<(), String> {
    let config = AppConfig::from_figment(&caltrace::figment())?;
    let database = Database::open(&config.database_url, 2, 1)?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let today = chrono::Utc::now().date_naive();
    let summary = caltrace::demo::seed(
        &mut conn,
        &caltrace::workflow::certificates::IssueContext::from_config(&config),
        today,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "demo laboratory seeded: {} instruments, {} certificates issued ({})",
        summary.instruments,
        summary.certificates.len(),
        summary.certificates.join(", ")
    );
    if let Some(subject) = &summary.signing {
        println!("demo signing identity installed (caltrace keys init): {subject}");
    }
    println!("API tokens (shown once), one user per role:");
    for (role, token) in &summary.tokens {
        println!("  {role:<11} {token}");
    }
    // Web logins for the same users: random passwords, shown once like the tokens.
    println!("web logins at /login (user / password, shown once):");
    for (role, _) in &summary.tokens {
        let mut secret = [0u8; 9];
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
        let password = caltrace::domain::audit::hex(&secret);
        let name = format!("demo-{role}");
        workflow::users::set_password(&mut conn, &Actor::command_line(), &name, &password)
            .map_err(|e| e.to_string())?;
        println!("  {name:<16} {password}");
    }
    Ok(())
}

fn verify_file(file: &std::path::Path, trust: Option<&std::path::Path>) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let pem = match trust {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            let database = open_database()?;
            let mut conn = database.get().map_err(|e| e.to_string())?;
            let chains = db::signing::all_chains(&mut conn).map_err(|e| e.to_string())?;
            if chains.is_empty() {
                return Err("this laboratory has no signing identity: give the issuer's root with --trust ROOT.pem".into());
            }
            chains.concat()
        }
    };
    let roots = caltrace::signing::check::trusted_roots(&pem).map_err(|e| e.to_string())?;
    let check = caltrace::signing::check::check_document(&bytes, &roots)
        .map_err(|e| format!("{}: NOT VALID: {e}", file.display()))?;
    println!("{}: valid {} signature", file.display(), check.kind);
    println!(
        "certificate number: {}",
        check.number.as_deref().unwrap_or("—")
    );
    println!("signed by: {}", check.signer);
    println!("signing time: {}", check.signing_time);
    println!("trusted root: {}", check.root);
    Ok(())
}

fn verify_audit(head: Option<String>) -> Result<(), String> {
    // A head is a SHA-256 as printed on certificates: anything else is a typing
    // slip, not evidence of tampering.
    if let Some(text) = head.as_deref() {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "--head '{text}' is not an audit chain head: give the 64 hexadecimal digits \
                 printed on a certificate as \"Audit chain head at issue\""
            ));
        }
    }
    let database = open_database()?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    match db::audit::verify(&mut conn, head).map_err(|e| e.to_string())? {
        Ok(chain) => {
            println!(
                "audit log intact: {} entries, head {}",
                chain.entries, chain.head
            );
            Ok(())
        }
        Err(broken) => Err(format!("audit log broken: {broken}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command.unwrap_or(Command::Serve)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("caltrace: {error}");
            ExitCode::FAILURE
        }
    }
}
