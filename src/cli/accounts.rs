//! `relais user …` and `relais token …`: accounts and API tokens, for the first admin and for scripts.

use clap::Subcommand;

use crate::clock::Clock;
use crate::domain::{EmailAddress, Role};
use crate::referential::Referential;
use crate::security;
use crate::store::Store;
use crate::store::accounts::NewUser;
use crate::store::audit::Actor;
use crate::store::organisations::NewOrganisation;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from RELAIS_PASSWORD, or asked twice at the prompt.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, staff, viewer or relay.
        #[arg(long)]
        role: String,
        /// For a relay: the member association the person belongs to (created if new).
        #[arg(long)]
        association: Option<String>,
        /// For a relay: the départements the association covers, comma-separated (codes or names).
        #[arg(long, value_delimiter = ',')]
        territories: Vec<String>,
    },
    /// List accounts with their roles and territories.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; it is printed once and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
        /// admin, staff or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List tokens.
    List,
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("RELAIS_PASSWORD") {
        return Ok(password);
    }
    let first = rpassword::prompt_password("Mot de passe : ")?;
    let second = rpassword::prompt_password("Confirmez le mot de passe : ")?;
    anyhow::ensure!(first == second, "les deux saisies diffèrent");
    Ok(first)
}

pub async fn user(command: UserCommand, store: &Store, clock: &Clock) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            name,
            role,
            association,
            territories,
        } => {
            let email = EmailAddress::parse(&email).map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("rôle « {role} » inconnu : admin, staff, viewer ou relay")
            })?;
            anyhow::ensure!(!name.trim().is_empty(), "le nom est obligatoire");
            let referential = Referential::get();
            let territories = territories
                .iter()
                .map(|t| {
                    referential
                        .resolve_departement(t.trim())
                        .map(str::to_string)
                        .ok_or_else(|| anyhow::anyhow!("département « {t} » inconnu"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let association_id = match (role, association) {
                (Role::Relay, None) => {
                    anyhow::bail!("un relais doit nommer son association (--association)")
                }
                (Role::Relay, Some(_)) if territories.is_empty() => {
                    anyhow::bail!("un relais doit nommer ses départements (--territories 13,84)")
                }
                (Role::Relay, Some(name)) => Some(match store.association_by_name(&name).await? {
                    Some(id) => id,
                    None => {
                        let new = NewOrganisation {
                            kind: "association".into(),
                            name: name.trim().into(),
                            ..Default::default()
                        };
                        store
                            .create_organisation(&new, &Actor::command_line(), clock.now_millis())
                            .await?
                    }
                }),
                (_, Some(_)) => anyhow::bail!("seul un relais se rattache à une association"),
                (_, None) => None,
            };
            let hash = security::hash_password(&read_password()?).map_err(anyhow::Error::msg)?;
            let new = NewUser {
                email: email.as_str(),
                name: name.trim(),
                role,
                password_hash: &hash,
                association_id,
                territories: &territories,
            };
            let id = store
                .create_user(&new, clock.now_millis())
                .await
                .map_err(|e| match e {
                    crate::store::StoreError::Conflict(_) => {
                        anyhow::anyhow!("un compte existe déjà pour {email}")
                    }
                    other => other.into(),
                })?;
            println!(
                "Compte {id} créé : {} <{email}>, rôle {}.",
                name.trim(),
                role.label()
            );
            Ok(())
        }
        UserCommand::List => {
            for row in store.list_access().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    row.id,
                    row.email,
                    row.role,
                    row.name,
                    row.territories.unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

pub async fn token(command: TokenCommand, store: &Store, clock: &Clock) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, role } => {
            let role = Role::parse(&role)
                .filter(|r| *r != Role::Relay)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "rôle « {role} » inconnu pour un jeton : admin, staff ou viewer"
                    )
                })?;
            let token = security::random_token();
            let id = store
                .create_api_token(
                    &name,
                    role,
                    &security::sha256_hex(&token),
                    clock.now_millis(),
                )
                .await?;
            eprintln!(
                "Jeton {id} « {name} » créé (rôle {}). Conservez-le : il ne sera plus affiché.",
                role.label()
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::List => {
            for t in store.list_api_tokens().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.role,
                    if t.revoked_at.is_some() {
                        "révoqué"
                    } else {
                        "actif"
                    }
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            store
                .revoke_api_token(id, clock.now_millis())
                .await
                .map_err(|_| anyhow::anyhow!("aucun jeton actif n'a l'id {id}"))?;
            println!("Jeton {id} révoqué.");
            Ok(())
        }
    }
}
