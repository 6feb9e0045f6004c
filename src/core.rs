//! [`Core`]: the operations on the provider's records that the CLI, the HTTP layer and
//! the desktop shell share. Each operation reads the clock once, validates through the
//! pure functions of [`crate::model`], writes through [`Store`] and publishes an event.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::Digest;

use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, Result};
use crate::events::{EventBus, ProviderEvent};
use crate::events::{RequestEntry, RequestStatus};
use crate::model::{
    self, Client, ClientInput, ClientType, Scope, User, UserInput, validate_claims,
    validate_scope_name, validate_username,
};
use crate::password;
use crate::seed::{ImportSummary, SEED_VERSION, ScopeInput, SeedFile};
use crate::store::flows::{self, TokenFilter, TokenKind, TokenRow, TokenSummary};
use crate::store::signals::{Signal, Signals};
use crate::store::{Durability, Store, UserRecord};

#[derive(Debug, Clone)]
pub struct Core {
    pub store: Store,
    pub clock: SharedClock,
    pub events: EventBus,
    data_dir: Arc<PathBuf>,
    signals: Signals,
    cache: Arc<RecordCache>,
    codes: Arc<IssuedCodes>,
}

/// Authorization codes this process issued and committed, by hash, until they are
/// exchanged: the exchange then needs no read of the database. Only the code's fixed
/// fields are taken from here; whether it is still unused is decided by the writer's
/// transaction that consumes it ([`flows::exchange_code`]), so a replay or a code
/// deleted with its client or user is still caught. Codes issued by another process,
/// or before a restart, are read from the database.
#[derive(Debug, Default)]
struct IssuedCodes(std::sync::Mutex<std::collections::HashMap<String, flows::CodeRow>>);

impl IssuedCodes {
    /// Most codes are exchanged within a second; ones never exchanged are dropped once
    /// expired, or all at once past this many.
    const LIMIT: usize = 10_000;
}

/// Clients, users and scopes as the hot paths read them, parsed once. Changes made
/// through this `Core` drop the cache at once; changes by another process (the CLI
/// while the provider runs) are noticed through the store's revision counter, checked
/// at most every [`RecordCache::RECHECK`].
#[derive(Debug, Default)]
struct RecordCache {
    inner: std::sync::RwLock<CacheInner>,
    /// When the revision is to be read again, in [`RecordCache::clock_ms`]; 0: at the
    /// next lookup. Outside the lock: every cached lookup looks at it (several per
    /// request), and a read lock is a write to a cache line both cores share.
    next_check: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct CacheInner {
    revision: i64,
    clients: std::collections::HashMap<String, Option<Arc<Client>>>,
    users: std::collections::HashMap<String, Option<Arc<User>>>,
    /// The same users by username (automatic approval names its persona).
    usernames: std::collections::HashMap<String, Option<Arc<User>>>,
    scopes: Option<Arc<Vec<Scope>>>,
    /// Access-token rows by the token's value, for introspection and bearer checks.
    /// Only access tokens: their rows change only when revoked or force-expired
    /// (refresh token rows also change when rotated). At most [`TOKENS_LIMIT`] (a
    /// token is up to a few KiB). Keyed by value with foldhash: SHA-256 of a JWT (the
    /// store's key), or SipHash of it, cost more than the rest of the lookup. Only
    /// tokens found in the store are kept, so nobody can flood it with chosen keys.
    tokens: foldhash::HashMap<String, Arc<TokenRow>>,
    /// Bumped whenever cached token rows may be out of date. A row read from the store
    /// is cached only if no bump happened while it was read, so a read that raced a
    /// revocation cannot put the old state back.
    token_epoch: u64,
    /// The data directory's [`Signal::Tokens`] counter when last looked at (see
    /// [`Core::find_token`]).
    tokens_signal: u64,
}

/// Which of a user's keys a cache lookup uses.
#[derive(Debug, Clone, Copy)]
enum UserKey {
    Sub,
    Username,
}

/// How many access tokens the cache keeps (resource servers check the few in use).
const TOKENS_LIMIT: usize = 2_000;

/// Inserts into a cache map, emptying it first when it holds `LIMIT` entries.
fn remember<V>(map: &mut std::collections::HashMap<String, V>, key: &str, value: V) {
    remember_at_most(map, key, value, 10_000);
}

fn remember_at_most<V, H: std::hash::BuildHasher>(
    map: &mut std::collections::HashMap<String, V, H>,
    key: &str,
    value: V,
    limit: usize,
) {
    if map.len() >= limit {
        map.clear();
    }
    map.insert(key.to_string(), value);
}

impl CacheInner {
    fn forget_records(&mut self) {
        self.clients.clear();
        self.users.clear();
        self.usernames.clear();
        self.scopes = None;
        self.forget_tokens();
    }

    fn forget_tokens(&mut self) {
        self.tokens.clear();
        self.token_epoch += 1;
    }
}

impl RecordCache {
    const RECHECK: std::time::Duration = std::time::Duration::from_millis(500);

    fn clear(&self) {
        if let Ok(mut c) = self.inner.write() {
            c.forget_records();
        }
        self.next_check
            .store(0, std::sync::atomic::Ordering::Release);
    }

    fn needs_check(&self) -> bool {
        Self::clock_ms() >= self.next_check.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The revision was just read: the next read is due in [`RecordCache::RECHECK`].
    fn checked(&self) {
        let due = Self::clock_ms() + Self::RECHECK.as_millis() as u64;
        self.next_check
            .store(due, std::sync::atomic::Ordering::Release);
    }

    /// Milliseconds of a monotonic clock since the first call, from 1.
    fn clock_ms() -> u64 {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let start = *START.get_or_init(std::time::Instant::now);
        start.elapsed().as_millis() as u64 + 1
    }
}

/// The argon2 hash of the documented sample password, `password` (the default
/// personas', and the sample seed's), made once: hashing it at every first start cost
/// an argon2 run per persona on the way to the first answer, for a password that is no
/// secret. Any other password is hashed with its own salt.
const DEFAULT_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$77DtCBVDJy56ZA/8Z2TyJA$vh9RypAubl676xa5xebMhr5Y/nYnAI1OPio1qU0o7dM";

/// The personas a fresh provider starts with.
fn default_users() -> Vec<UserInput> {
    // The full OpenID Connect standard claim set (Core §5.1), and roles and groups
    // for the presets to place.
    let user = |username: &str, given: &str, claims: serde_json::Value| {
        let mut all = serde_json::json!({
            "name": format!("{given} Example"),
            "given_name": given,
            "family_name": "Example",
            "middle_name": "Q.",
            "nickname": username,
            "preferred_username": username,
            "profile": format!("https://example.com/people/{username}"),
            "picture": format!("https://example.com/people/{username}.png"),
            "website": "https://example.com",
            "email": format!("{username}@example.com"),
            "email_verified": true,
            "zoneinfo": "Europe/Paris",
            "locale": "en-US",
            "phone_number": "+1 555 0100",
            "phone_number_verified": true,
            "address": {
                "formatted": "1 Example Street\nSpringfield, IL 62701\nUS",
                "street_address": "1 Example Street",
                "locality": "Springfield",
                "region": "IL",
                "postal_code": "62701",
                "country": "US"
            },
            "updated_at": 1_767_225_600,
        });
        if let (Some(all), serde_json::Value::Object(more)) = (all.as_object_mut(), claims) {
            all.extend(more);
        }
        UserInput {
            username: Some(username.into()),
            password_hash: Some(DEFAULT_PASSWORD_HASH.into()),
            claims: Some(all),
            ..Default::default()
        }
    };
    vec![
        user(
            "alice",
            "Alice",
            serde_json::json!({"gender": "female", "birthdate": "1990-04-01", "roles": ["admin", "user"], "groups": ["engineering"]}),
        ),
        user(
            "bob",
            "Bob",
            serde_json::json!({"gender": "male", "birthdate": "1985-11-23", "phone_number": "+1 555 0101", "roles": ["user"], "groups": ["sales"]}),
        ),
    ]
}

impl Core {
    /// Opens the data directory with the system clock.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_with_clock(data_dir, Arc::new(SystemClock)).await
    }

    /// Opens the data directory; on first start seeds the default scopes and personas.
    pub async fn open_with_clock(data_dir: &Path, clock: SharedClock) -> Result<Self> {
        Self::open_with(data_dir, clock, Durability::default()).await
    }

    /// [`Core::open_with_clock`] with the commits' [`Durability`].
    pub async fn open_with(
        data_dir: &Path,
        clock: SharedClock,
        durability: Durability,
    ) -> Result<Self> {
        // Migrations and first-start seeding run under a lock, so two commands started
        // together on a fresh data directory do not race.
        let lock = crate::fsutil::lock_exclusive_async(&data_dir.join(".lock")).await?;
        let store = Store::open_with(data_dir, durability).await?;
        let (seeded, revision) = store.opened();
        let signals = Signals::open(data_dir);
        let cache = RecordCache::default();
        if let Ok(mut c) = cache.inner.write() {
            // What open read is this new, and so is what is read from now on.
            c.revision = revision;
            c.tokens_signal = signals.read(Signal::Tokens);
            for client in store.clients_at_open() {
                let id = client.client_id.clone();
                remember(&mut c.clients, &id, Some(Arc::new(client)));
            }
        }
        cache.checked();
        let core = Core {
            store,
            clock,
            events: EventBus::new(),
            data_dir: Arc::new(data_dir.to_path_buf()),
            signals,
            cache: Arc::new(cache),
            codes: Arc::default(),
        };
        if !seeded {
            core.seed_defaults().await?;
        }
        drop(lock);
        Ok(core)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The counters shared with other processes on the data directory.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The store's revision counter as this core last saw it (read again at most every
    /// [`RecordCache::RECHECK`]): what the signing keys follow.
    pub async fn revision(&self) -> Result<i64> {
        self.revalidate().await?;
        Ok(self.cache.inner.read().map(|c| c.revision).unwrap_or(0))
    }

    /// Drops cached records when another process changed them.
    async fn revalidate(&self) -> Result<()> {
        if !self.cache.needs_check() {
            return Ok(());
        }
        let revision = self.store.revision().await?;
        self.note_revision(revision);
        Ok(())
    }

    /// Notices clients, users or scopes changed by another process (the CLI, an import
    /// into the same data directory), drops them from the cache and publishes
    /// [`ProviderEvent::RecordsChanged`]; returns whether there was a change. The
    /// desktop app calls it every second while its window is open, so the window stays
    /// current while no request reads the records.
    pub async fn follow_other_processes(&self) -> Result<bool> {
        let revision = self.store.revision().await?;
        Ok(self.note_revision(revision))
    }

    /// After a change of clients, users or scopes made here: forgets the cached records
    /// and takes the revision's bump as this change's, so it is not announced again as
    /// another process's (unless another process bumped it too meanwhile: then the next
    /// check still sees a difference, and announces it).
    async fn own_change(&self) {
        self.cache.clear();
        if let Ok(revision) = self.store.revision().await
            && let Ok(mut c) = self.cache.inner.write()
            && revision == c.revision + 1
        {
            c.revision = revision;
            drop(c);
            self.cache.checked();
        }
    }

    fn note_revision(&self, revision: i64) -> bool {
        let changed = match self.cache.inner.write() {
            Ok(mut c) => {
                let changed = c.revision != revision;
                if changed {
                    c.forget_records();
                    c.revision = revision;
                }
                changed
            }
            Err(_) => false,
        };
        self.cache.checked();
        if changed {
            self.events.publish(ProviderEvent::RecordsChanged);
        }
        changed
    }

    /// A client, from the cache (the hot paths' lookup).
    pub async fn cached_client(&self, client_id: &str) -> Result<Option<Arc<Client>>> {
        self.revalidate().await?;
        if let Some(hit) = self
            .cache
            .inner
            .read()
            .ok()
            .and_then(|c| c.clients.get(client_id).cloned())
        {
            return Ok(hit);
        }
        let client = self.store.get_client(client_id).await?.map(Arc::new);
        if let Ok(mut c) = self.cache.inner.write() {
            remember(&mut c.clients, client_id, client.clone());
        }
        Ok(client)
    }

    /// The stored row of a token, by the token's value (introspection, revocation,
    /// bearer checks). Access-token rows are cached: revocations and forced expiries
    /// through this process drop the cache at once ([`Core::tokens_revoked`]); those
    /// by another process on the same data directory bump the tokens signal (and the
    /// store's revision), looked at before every lookup.
    pub async fn find_token(&self, token: &str) -> Result<Option<Arc<TokenRow>>> {
        // A revocation by another process (the CLI) bumps the tokens signal once
        // committed: then the revision is read now, not at the next periodic check.
        let rung = self.signals.read(Signal::Tokens);
        let heard = self
            .cache
            .inner
            .read()
            .is_ok_and(|c| c.tokens_signal != rung);
        if heard {
            let revision = self.store.revision().await?;
            if let Ok(mut c) = self.cache.inner.write() {
                c.tokens_signal = rung;
                c.forget_tokens();
            }
            self.note_revision(revision);
        }
        self.revalidate().await?;
        let epoch = match self.cache.inner.read() {
            Ok(c) => match c.tokens.get(token) {
                Some(hit) => return Ok(Some(hit.clone())),
                None => Some(c.token_epoch),
            },
            Err(_) => None,
        };
        let mut conn = self.store.pool().acquire().await?;
        let row = flows::find_token(&mut conn, token).await?.map(Arc::new);
        drop(conn);
        if let Some(r) = row.as_ref().filter(|r| r.kind == TokenKind::AccessToken)
            && let Ok(mut c) = self.cache.inner.write()
            && Some(c.token_epoch) == epoch
        {
            remember_at_most(&mut c.tokens, token, r.clone(), TOKENS_LIMIT);
        }
        Ok(row)
    }

    /// To call once a revocation or forced expiry is committed: drops cached token
    /// rows and tells the window.
    pub fn tokens_revoked(&self, id: Option<String>) {
        if let Ok(mut c) = self.cache.inner.write() {
            c.forget_tokens();
        }
        // Tells a provider serving this data directory from another process.
        self.signals.bump(Signal::Tokens);
        self.events.publish(ProviderEvent::TokenChanged { id });
    }

    /// A user by `sub`, from the cache.
    pub async fn cached_user(&self, sub: &str) -> Result<Option<Arc<User>>> {
        self.cached_user_by(UserKey::Sub, sub).await
    }

    /// A user by username, from the cache (automatic approval's lookup).
    pub async fn cached_user_named(&self, username: &str) -> Result<Option<Arc<User>>> {
        self.cached_user_by(UserKey::Username, username).await
    }

    async fn cached_user_by(&self, by: UserKey, key: &str) -> Result<Option<Arc<User>>> {
        self.revalidate().await?;
        let hit = self.cache.inner.read().ok().and_then(|c| {
            let map = match by {
                UserKey::Sub => &c.users,
                UserKey::Username => &c.usernames,
            };
            map.get(key).cloned()
        });
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let record = match by {
            UserKey::Sub => self.store.get_user_by_sub(key).await?,
            UserKey::Username => self.store.get_user_by_username(key).await?,
        };
        let user = record.map(|r| Arc::new(r.user));
        if let Ok(mut c) = self.cache.inner.write() {
            let map = match by {
                UserKey::Sub => &mut c.users,
                UserKey::Username => &mut c.usernames,
            };
            remember(map, key, user.clone());
        }
        Ok(user)
    }

    /// Remembers a code once its row is committed, for [`Core::take_code`].
    pub fn code_issued(&self, code_hash: String, row: flows::CodeRow, now: i64) {
        if let Ok(mut codes) = self.codes.0.lock() {
            if codes.len() >= IssuedCodes::LIMIT {
                codes.retain(|_, c| c.expires_at > now);
                if codes.len() >= IssuedCodes::LIMIT {
                    codes.clear();
                }
            }
            codes.insert(code_hash, row);
        }
    }

    /// The row of a code about to be exchanged, by its hash: from memory if this
    /// process issued it (and forgets it there), else from the database.
    pub async fn take_code(&self, code_hash: &str) -> Result<Option<flows::CodeRow>> {
        if let Some(row) = self
            .codes
            .0
            .lock()
            .ok()
            .and_then(|mut c| c.remove(code_hash))
        {
            return Ok(Some(row));
        }
        let mut conn = self.store.pool().acquire().await?;
        flows::find_code(&mut conn, code_hash).await
    }

    /// The scopes, from the cache.
    pub async fn cached_scopes(&self) -> Result<Arc<Vec<Scope>>> {
        self.revalidate().await?;
        if let Some(hit) = self.cache.inner.read().ok().and_then(|c| c.scopes.clone()) {
            return Ok(hit);
        }
        let scopes = Arc::new(self.store.list_scopes().await?);
        if let Ok(mut c) = self.cache.inner.write() {
            c.scopes = Some(scopes.clone());
        }
        Ok(scopes)
    }

    /// Adds the default scopes and personas; for a database whose first start has not
    /// done so yet (checked under the data directory's lock).
    async fn seed_defaults(&self) -> Result<()> {
        for scope in Scope::defaults() {
            self.store.upsert_scope(&scope).await?;
        }
        for user in default_users() {
            if let Some(name) = &user.username
                && self.store.get_user_by_username(name).await?.is_none()
            {
                self.create_user(user).await?;
            }
        }
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('seeded', '1')")
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    // ---- clients ----

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        self.store.list_clients().await
    }

    pub async fn get_client(&self, client_id: &str) -> Result<Client> {
        self.store
            .get_client(client_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "client",
                id: client_id.into(),
            })
    }

    /// The hash of a client's RFC 7592 registration access token: `None` when there
    /// is no such client, `Some(None)` when it was not dynamically registered.
    pub async fn registration_token_hash(&self, client_id: &str) -> Result<Option<Option<String>>> {
        self.store.registration_token_hash(client_id).await
    }

    async fn scope_names(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .list_scopes()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect())
    }

    pub async fn create_client(&self, input: ClientInput) -> Result<Client> {
        self.create_registered_client(input, None).await
    }

    /// Creates a client with the hash of its RFC 7592 registration access token (the
    /// registration endpoint's clients; `None` for the others).
    pub async fn create_registered_client(
        &self,
        input: ClientInput,
        registration_token_hash: Option<&str>,
    ) -> Result<Client> {
        let client = input.into_client(None, &self.scope_names().await?, self.now())?;
        self.ensure_keys_for(&client).await?;
        self.store
            .insert_client_registered(&client, registration_token_hash)
            .await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ClientChanged {
            client_id: client.client_id.clone(),
        });
        Ok(client)
    }

    /// Replaces the fields `input` sets; the others keep their values.
    pub async fn update_client(&self, client_id: &str, input: ClientInput) -> Result<Client> {
        let existing = self.get_client(client_id).await?;
        let client = input.into_client(Some(&existing), &self.scope_names().await?, self.now())?;
        self.ensure_keys_for(&client).await?;
        self.store.update_client(&client).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ClientChanged {
            client_id: client.client_id.clone(),
        });
        Ok(client)
    }

    /// Replaces `existing` with the client `input` describes on its own (nothing of
    /// `existing` is kept but what `input` repeats; RFC 7592 §2.2) and keeps its
    /// creation time.
    pub async fn replace_client(&self, existing: &Client, input: ClientInput) -> Result<Client> {
        let mut client = input.into_client(None, &self.scope_names().await?, self.now())?;
        if client.client_id != existing.client_id {
            return Err(Error::invalid(
                "client_id",
                format!(
                    "cannot change the client id of '{}'; create a new client instead",
                    existing.client_id
                ),
            ));
        }
        client.created_at = existing.created_at;
        self.ensure_keys_for(&client).await?;
        self.store.update_client(&client).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ClientChanged {
            client_id: client.client_id.clone(),
        });
        Ok(client)
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        self.store.delete_client(client_id).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ClientChanged {
            client_id: client_id.into(),
        });
        self.events
            .publish(ProviderEvent::TokenChanged { id: None });
        Ok(())
    }

    pub async fn regenerate_client_secret(&self, client_id: &str) -> Result<Client> {
        let existing = self.get_client(client_id).await?;
        if existing.client_type == ClientType::Public {
            return Err(Error::invalid(
                "client_secret",
                format!(
                    "'{client_id}' is a public client and has no secret; make it confidential first"
                ),
            ));
        }
        let mut client = existing;
        client.client_secret = Some(model::random_token(32));
        client.updated_at = self.now();
        self.store.update_client(&client).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ClientChanged {
            client_id: client.client_id.clone(),
        });
        Ok(client)
    }

    // ---- users ----

    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|r| r.user)
            .collect())
    }

    pub async fn get_user(&self, username: &str) -> Result<User> {
        self.store
            .get_user_by_username(username)
            .await?
            .map(|r| r.user)
            .ok_or_else(|| Error::NotFound {
                what: "user",
                id: username.into(),
            })
    }

    async fn password_hash_for(input: &UserInput) -> Result<Option<Option<String>>> {
        match (&input.password, &input.password_hash) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "password",
                "give either password or password_hash, not both",
            )),
            (Some(p), None) if p.is_empty() => Ok(Some(None)),
            // The documented sample password (the default personas', examples/seed.yaml's)
            // is no secret: its hash is made once, not on every first start.
            (Some(p), None) if p == "password" => Ok(Some(Some(DEFAULT_PASSWORD_HASH.into()))),
            (Some(p), None) => Ok(Some(Some(password::hash_blocking(p.clone()).await?))),
            (None, Some(h)) => {
                password::validate_phc(h)?;
                Ok(Some(Some(h.clone())))
            }
            (None, None) => Ok(None),
        }
    }

    pub async fn create_user(&self, input: UserInput) -> Result<User> {
        let username = input
            .username
            .clone()
            .unwrap_or_default()
            .trim()
            .to_string();
        validate_username(&username)?;
        let claims = validate_claims(
            input
                .claims
                .clone()
                .unwrap_or_else(|| serde_json::json!({})),
        )?;
        let sub = match &input.sub {
            Some(s) if s.trim().is_empty() => {
                return Err(Error::invalid("sub", "sub must not be empty"));
            }
            Some(s) => s.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        if self.store.get_user_by_username(&username).await?.is_some() {
            return Err(Error::invalid(
                "username",
                format!("a user named '{username}' already exists; choose another username"),
            ));
        }
        let password_hash = Self::password_hash_for(&input).await?.flatten();
        let now = self.now();
        let rec = UserRecord {
            user: User {
                sub,
                username,
                has_password: password_hash.is_some(),
                claims,
                created_at: now,
                updated_at: now,
            },
            password_hash,
        };
        self.store.save_user(&rec, true).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::UserChanged {
            username: rec.user.username.clone(),
        });
        Ok(rec.user)
    }

    /// Changes a persona; fields `input` leaves out keep their values.
    pub async fn update_user(&self, username: &str, input: UserInput) -> Result<User> {
        let mut rec = self
            .store
            .get_user_by_username(username)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "user",
                id: username.into(),
            })?;
        if let Some(sub) = &input.sub
            && *sub != rec.user.sub
        {
            return Err(Error::invalid(
                "sub",
                "a persona's sub cannot change (tokens and consents refer to it); create a new user instead",
            ));
        }
        if let Some(new_name) = &input.username {
            let new_name = new_name.trim().to_string();
            validate_username(&new_name)?;
            rec.user.username = new_name;
        }
        if let Some(claims) = input.claims.clone() {
            rec.user.claims = validate_claims(claims)?;
        }
        if let Some(hash) = Self::password_hash_for(&input).await? {
            rec.password_hash = hash;
        }
        rec.user.has_password = rec.password_hash.is_some();
        rec.user.updated_at = self.now();
        self.store.save_user(&rec, false).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::UserChanged {
            username: rec.user.username.clone(),
        });
        Ok(rec.user)
    }

    pub async fn delete_user(&self, username: &str) -> Result<()> {
        self.store.delete_user(username).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::UserChanged {
            username: username.into(),
        });
        self.events
            .publish(ProviderEvent::TokenChanged { id: None });
        Ok(())
    }

    // ---- scopes ----

    pub async fn list_scopes(&self) -> Result<Vec<Scope>> {
        self.store.list_scopes().await
    }

    pub async fn save_scope(&self, input: ScopeInput) -> Result<Scope> {
        let name = input.name.trim().to_string();
        validate_scope_name("name", &name)?;
        let existing = self
            .store
            .list_scopes()
            .await?
            .into_iter()
            .find(|s| s.name == name);
        let scope = Scope {
            description: input
                .description
                .or(existing.as_ref().map(|s| s.description.clone()))
                .unwrap_or_default(),
            claims: input
                .claims
                .or(existing.as_ref().map(|s| s.claims.clone()))
                .unwrap_or_default(),
            name,
        };
        self.store.upsert_scope(&scope).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ScopesChanged);
        Ok(scope)
    }

    pub async fn delete_scope(&self, name: &str) -> Result<()> {
        let users: Vec<String> = self
            .list_clients()
            .await?
            .into_iter()
            .filter(|c| c.scopes.iter().any(|s| s == name))
            .map(|c| c.client_id)
            .collect();
        if !users.is_empty() {
            return Err(Error::invalid(
                "name",
                format!(
                    "scope '{name}' is allowed to clients {}; remove it from them first",
                    users.join(", ")
                ),
            ));
        }
        self.store.delete_scope(name).await?;
        self.own_change().await;
        self.events.publish(ProviderEvent::ScopesChanged);
        Ok(())
    }

    // ---- tokens ----

    async fn summarize(&self, rows: Vec<TokenRow>) -> Result<Vec<TokenSummary>> {
        let now = self.now();
        let users: std::collections::HashMap<String, String> = self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|r| (r.user.sub, r.user.username))
            .collect();
        Ok(rows
            .into_iter()
            .map(|t| TokenSummary {
                state: t.state(now),
                scopes: t.scope_list(),
                username: t.sub.as_ref().and_then(|s| users.get(s).cloned()),
                id: t.id,
                kind: t.kind,
                format: t.format,
                client_id: t.client_id,
                sub: t.sub,
                issued_at: t.issued_at,
                expires_at: t.expires_at,
                revoked_at: t.revoked_at.or(t.rotated_at),
                grant_id: t.grant_id,
            })
            .collect())
    }

    /// Issued tokens, newest first.
    pub async fn list_tokens(&self, filter: TokenFilter) -> Result<Vec<TokenSummary>> {
        let sub = match &filter.username {
            Some(u) => Some(self.get_user(u).await?.sub),
            None => None,
        };
        let rows =
            flows::list_tokens(self.store.pool(), &filter, sub.as_deref(), self.now()).await?;
        self.summarize(rows).await
    }

    async fn token_row(&self, id: &str) -> Result<TokenRow> {
        flows::get_token(self.store.pool(), id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "token",
                id: id.into(),
            })
    }

    pub async fn get_token(&self, id: &str) -> Result<(TokenSummary, Option<String>)> {
        let row = self.token_row(id).await?;
        let value = row.value.clone();
        let mut list = self.summarize(vec![row]).await?;
        let summary = list.pop().ok_or_else(|| Error::NotFound {
            what: "token",
            id: id.into(),
        })?;
        Ok((summary, value))
    }

    /// Revokes one token; a refresh token takes its whole grant with it, as at the
    /// revocation endpoint.
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        let row = self.token_row(id).await?;
        let now = self.now();
        let mut tx = self.store.pool().begin_with("BEGIN IMMEDIATE").await?;
        match (row.kind, &row.grant_id) {
            (TokenKind::RefreshToken, Some(g)) => {
                flows::revoke_grant(&mut tx, g, now, "revoked from Authdesk").await?;
            }
            _ => {
                flows::revoke_token(&mut tx, id, now).await?;
            }
        }
        tx.commit().await?;
        self.tokens_revoked(Some(id.into()));
        Ok(())
    }

    pub async fn revoke_client_tokens(&self, client_id: &str) -> Result<u64> {
        self.get_client(client_id).await?;
        let n = flows::revoke_tokens_where(self.store.pool(), "client_id", client_id, self.now())
            .await?;
        self.tokens_revoked(None);
        Ok(n)
    }

    pub async fn revoke_user_tokens(&self, username: &str) -> Result<u64> {
        let sub = self.get_user(username).await?.sub;
        let n = flows::revoke_tokens_where(self.store.pool(), "sub", &sub, self.now()).await?;
        self.tokens_revoked(None);
        Ok(n)
    }

    /// Sets a token's expiry to now, so the client's refresh logic can be tested.
    pub async fn expire_token(&self, id: &str) -> Result<TokenSummary> {
        let now = self.now();
        if !flows::expire_token(self.store.pool(), id, now).await? {
            self.token_row(id).await?;
        }
        self.tokens_revoked(Some(id.into()));
        Ok(self.get_token(id).await?.0)
    }

    /// Remembered consents, of one persona or of all.
    pub async fn list_consents(&self, username: Option<&str>) -> Result<Vec<flows::Consent>> {
        let sub = match username {
            Some(u) => Some(self.get_user(u).await?.sub),
            None => None,
        };
        flows::list_consents(self.store.pool(), sub.as_deref()).await
    }

    /// Forgets a persona's consent to a client and revokes what it granted, so the
    /// next sign-in asks again ("revoke all grants of a user for a client"). Works
    /// whether or not a consent was remembered (a password or device grant leaves none);
    /// `NotFound` only when there was neither a consent nor a live grant. Returns the
    /// number of tokens revoked.
    pub async fn revoke_consent(&self, username: &str, client_id: &str) -> Result<u64> {
        let sub = self.get_user(username).await?.sub;
        self.get_client(client_id).await?;
        let (consent, tokens) =
            flows::revoke_consent(self.store.pool(), &sub, client_id, self.now()).await?;
        // Whatever was revoked, the cached token rows must follow.
        self.tokens_revoked(None);
        if !consent && tokens == 0 {
            return Err(Error::NotFound {
                what: "consent or live grant",
                id: format!("{username} → {client_id}"),
            });
        }
        Ok(tokens)
    }

    /// The request log, newest first.
    pub async fn list_requests(
        &self,
        client_id: Option<&str>,
        status: Option<RequestStatus>,
        limit: u32,
    ) -> Result<Vec<RequestEntry>> {
        Ok(crate::log::list(self.store.pool(), client_id, status, limit).await?)
    }

    // ---- signing keys ----

    /// Every signing key, newest first, with its state now.
    pub async fn list_keys(&self) -> Result<Vec<crate::keys::KeyInfo>> {
        crate::keys::list_in_store(&self.store, self.now()).await
    }

    /// Rotates the signing keys of `alg` (every algorithm in use when `None`): a new
    /// active key each; the keys replaced stay published until `retire_old` says. A
    /// provider serving this data directory (here or in another process) follows.
    /// Returns the new keys.
    pub async fn rotate_keys(
        &self,
        alg: Option<model::SigningAlg>,
        retire_old: crate::keys::RetireOld,
        now: model::Timestamp,
    ) -> Result<Vec<crate::keys::KeyInfo>> {
        let made = crate::keys::rotate_in_store(&self.store, alg, retire_old, now).await;
        self.keys_changed().await;
        made
    }

    /// Retires the published key `kid` now: it leaves the JWKS and what it signed no
    /// longer verifies. The active key cannot be retired (rotate first).
    pub async fn retire_key(
        &self,
        kid: &str,
        now: model::Timestamp,
    ) -> Result<crate::keys::KeyInfo> {
        let retired = crate::keys::retire_in_store(&self.store, kid, now).await?;
        self.keys_changed().await;
        Ok(retired)
    }

    /// How long a replaced key stays published (seconds): the provider's setting.
    pub async fn key_retire_after(&self) -> Result<i64> {
        self.store.key_retire_after().await
    }

    /// Sets how long replaced keys stay published from the next rotation on.
    pub async fn set_key_retire_after(&self, seconds: i64) -> Result<()> {
        if !(0..=model::MAX_TTL).contains(&seconds) {
            return Err(Error::invalid(
                "key_retire_after",
                format!("{seconds} s is not a time between 0 and 10 years"),
            ));
        }
        self.store.set_key_retire_after(seconds).await
    }

    /// Makes (and stores) a first PS256 or EdDSA key when `client` signs with one and
    /// there is none yet: a relying party that reads the JWKS once, right after the client is
    /// made, then finds the key of its first token there.
    async fn ensure_keys_for(&self, client: &Client) -> Result<()> {
        let mut algs = vec![client.id_token_signed_response_alg];
        if client.access_token_format == model::TokenFormat::Jwt {
            algs.push(client.access_token_signed_response_alg);
        }
        algs.extend(client.userinfo_signed_response_alg);
        // RS256 and ES256 keys are made by every provider's start (RS256 in the
        // background, so that a first start with a seed file does not wait for it).
        algs.retain(|a| !matches!(a, model::SigningAlg::Rs256 | model::SigningAlg::Es256));
        if crate::keys::ensure_keys_in_store(&self.store, &algs, self.now()).await? {
            self.keys_changed().await;
        }
        Ok(())
    }

    async fn keys_changed(&self) {
        // Token states depend on the keys (a retired key's tokens are inactive).
        if let Ok(mut c) = self.cache.inner.write() {
            c.forget_tokens();
        }
        self.own_change().await;
        self.events.publish(ProviderEvent::KeysChanged);
    }

    // ---- export / import ----

    pub async fn export(&self) -> Result<SeedFile> {
        let scopes = self
            .store
            .list_scopes()
            .await?
            .into_iter()
            .map(|s| ScopeInput {
                name: s.name,
                description: Some(s.description),
                claims: Some(s.claims),
            })
            .collect();
        let users = self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|r| UserInput {
                username: Some(r.user.username),
                sub: Some(r.user.sub),
                password: None,
                password_hash: r.password_hash,
                claims: Some(serde_json::Value::Object(r.user.claims)),
            })
            .collect();
        let clients = self
            .list_clients()
            .await?
            .iter()
            .map(ClientInput::from)
            .collect();
        Ok(SeedFile {
            version: SEED_VERSION,
            scopes,
            users,
            clients,
            faults: Vec::new(),
        })
    }

    /// Applies a seed file idempotently. Every entry is validated before anything is
    /// written, so a bad file changes nothing.
    /// Applies the seed file at `path` (`serve --seed`), unless this very file was
    /// applied last and nothing changed the records since (the revision counter is
    /// where it was then): a restart then hashes no persona's password again. Returns
    /// `None` when it skipped.
    pub async fn import_seed_file(&self, path: &Path) -> Result<Option<ImportSummary>> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let digest = hex::encode(sha2::Sha256::digest(&bytes));
        let applied: Option<(String, i64)> = sqlx::query_as(
            "SELECT a.value, CAST(b.value AS INTEGER) FROM meta a, meta b WHERE a.key = 'seed_sha256' AND b.key = 'seed_revision'",
        )
        .fetch_optional(self.store.pool())
        .await?;
        let revision = self.store.revision().await?;
        if applied.is_some_and(|(d, r)| d == digest && r == revision) {
            return Ok(None);
        }
        let summary = self.import(SeedFile::read(path)?).await?;
        let revision = self.store.revision().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('seed_sha256', ?), ('seed_revision', ?)",
        )
        .bind(&digest)
        .bind(revision.to_string())
        .execute(self.store.pool())
        .await?;
        Ok(Some(summary))
    }

    pub async fn import(&self, seed: SeedFile) -> Result<ImportSummary> {
        let at = |kind: &str, i: usize, name: Option<&str>, e: Error| -> Error {
            let label = match name {
                Some(n) => format!("{kind}[{i}] ({n})"),
                None => format!("{kind}[{i}]"),
            };
            match e {
                Error::Invalid { field, message } => Error::Invalid {
                    field: format!("{label}.{field}"),
                    message,
                },
                other => Error::Other(format!("{label}: {other}")),
            }
        };
        // Validate: scopes first, since clients refer to them.
        let mut scope_names = self.scope_names().await?;
        for (i, s) in seed.scopes.iter().enumerate() {
            validate_scope_name("name", s.name.trim())
                .map_err(|e| at("scopes", i, Some(&s.name), e))?;
            if !scope_names.contains(&s.name) {
                scope_names.push(s.name.clone());
            }
        }
        let now = self.now();
        let mut seen_ids = std::collections::HashSet::new();
        for (i, c) in seed.clients.iter().enumerate() {
            let Some(id) = c.client_id.as_deref() else {
                return Err(at(
                    "clients",
                    i,
                    c.name.as_deref(),
                    Error::invalid(
                        "client_id",
                        "a seed file must name each client's id, so applying it again updates the client instead of adding another",
                    ),
                ));
            };
            if !seen_ids.insert(id.to_string()) {
                return Err(at(
                    "clients",
                    i,
                    Some(id),
                    Error::invalid("client_id", "appears twice in the file"),
                ));
            }
            let existing = self.store.get_client(id).await?;
            c.clone()
                .into_client(existing.as_ref(), &scope_names, now)
                .map_err(|e| at("clients", i, Some(id), e))?;
        }
        let mut seen_users = std::collections::HashSet::new();
        let mut seen_subs = std::collections::HashSet::new();
        for (i, u) in seed.users.iter().enumerate() {
            let name = u.username.clone().unwrap_or_default();
            validate_username(&name).map_err(|e| at("users", i, None, e))?;
            if !seen_users.insert(name.clone()) {
                return Err(at(
                    "users",
                    i,
                    Some(&name),
                    Error::invalid("username", "appears twice in the file"),
                ));
            }
            if let Some(c) = &u.claims {
                validate_claims(c.clone()).map_err(|e| at("users", i, Some(&name), e))?;
            }
            // What creating or updating the persona would refuse is refused here, before
            // anything is written: a file with one bad entry changes nothing.
            if u.password.is_some() && u.password_hash.is_some() {
                return Err(at(
                    "users",
                    i,
                    Some(&name),
                    Error::invalid(
                        "password",
                        "give either password or password_hash, not both",
                    ),
                ));
            }
            if u.sub.as_ref().is_some_and(|s| s.trim().is_empty()) {
                return Err(at(
                    "users",
                    i,
                    Some(&name),
                    Error::invalid("sub", "sub must not be empty"),
                ));
            }
            if let Some(h) = &u.password_hash {
                password::validate_phc(h).map_err(|e| at("users", i, Some(&name), e))?;
            }
            // A new persona's sub must be free, in the store and in the file.
            let existing = self.store.get_user_by_username(&name).await?;
            if let (None, Some(sub)) = (&existing, &u.sub) {
                let taken = self.store.get_user_by_sub(sub).await?.is_some()
                    || !seen_subs.insert(sub.clone());
                if taken {
                    return Err(at(
                        "users",
                        i,
                        Some(&name),
                        Error::invalid(
                            "sub",
                            format!("sub '{sub}' already belongs to another user"),
                        ),
                    ));
                }
            }
        }

        let mut summary = ImportSummary::default();
        let known: Vec<String> = self.scope_names().await?;
        for s in seed.scopes {
            if known.contains(&s.name) {
                summary.scopes_updated += 1;
            } else {
                summary.scopes_created += 1;
            }
            self.save_scope(s).await?;
        }
        for (i, u) in seed.users.into_iter().enumerate() {
            let name = u.username.clone().unwrap_or_default();
            let res = if self.store.get_user_by_username(&name).await?.is_some() {
                summary.users_updated += 1;
                // `sub` is identity; a seed never rewrites it on an existing persona.
                let mut u = u;
                u.sub = None;
                self.update_user(&name, u).await
            } else {
                summary.users_created += 1;
                self.create_user(u).await
            };
            res.map_err(|e| at("users", i, Some(&name), e))?;
        }
        for (i, c) in seed.clients.into_iter().enumerate() {
            let id = c.client_id.clone().unwrap_or_default();
            let res = if self.store.get_client(&id).await?.is_some() {
                summary.clients_updated += 1;
                self.update_client(&id, c).await
            } else {
                summary.clients_created += 1;
                self.create_client(c).await
            };
            res.map_err(|e| at("clients", i, Some(&id), e))?;
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn default_personas_sign_in_with_the_documented_password() {
        assert!(crate::password::verify(DEFAULT_PASSWORD_HASH, "password"));
        assert!(!crate::password::verify(DEFAULT_PASSWORD_HASH, "Password"));
        let sample = UserInput {
            password: Some("password".into()),
            ..Default::default()
        };
        let other = UserInput {
            password: Some("hunter22".into()),
            ..Default::default()
        };
        let sample = Core::password_hash_for(&sample)
            .await
            .unwrap()
            .flatten()
            .unwrap();
        let other = Core::password_hash_for(&other)
            .await
            .unwrap()
            .flatten()
            .unwrap();
        assert_eq!(sample, DEFAULT_PASSWORD_HASH);
        assert_ne!(other, DEFAULT_PASSWORD_HASH);
        assert!(crate::password::verify(&other, "hunter22"));
    }

    #[tokio::test]
    async fn an_unchanged_seed_is_not_applied_again_unless_the_records_changed() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).await.unwrap();
        let seed = dir.path().join("seed.yaml");
        std::fs::write(
            &seed,
            "users:\n  - username: carol\n    password: carols-pass\n",
        )
        .unwrap();
        assert!(core.import_seed_file(&seed).await.unwrap().is_some());
        // A restart with the same file: nothing to do (no password hashed again).
        assert!(core.import_seed_file(&seed).await.unwrap().is_none());
        // Records changed since (carol deleted in the window): applied again.
        core.delete_user("carol").await.unwrap();
        assert!(core.import_seed_file(&seed).await.unwrap().is_some());
        assert!(core.get_user("carol").await.is_ok());
        assert!(core.import_seed_file(&seed).await.unwrap().is_none());
        // The file changed: applied again.
        std::fs::write(
            &seed,
            "users:\n  - username: carol\n    password: new-pass\n",
        )
        .unwrap();
        assert!(core.import_seed_file(&seed).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn first_start_seeds_alice_bob_and_scopes_once() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).await.unwrap();
        let users = core.list_users().await.unwrap();
        let names: Vec<_> = users.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert!(users[0].has_password);
        assert_eq!(users[0].claims["email_verified"], true);
        let scopes: Vec<_> = core
            .list_scopes()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        for s in model::DEFAULT_SCOPES {
            assert!(scopes.iter().any(|x| x == s), "{s} missing");
        }
        core.delete_user("bob").await.unwrap();
        core.store.close().await;
        let core = Core::open(dir.path()).await.unwrap();
        assert_eq!(
            core.list_users().await.unwrap().len(),
            1,
            "deleted seed user came back"
        );
    }

    #[tokio::test]
    async fn duplicate_username_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).await.unwrap();
        let err = core
            .create_user(UserInput {
                username: Some("alice".into()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("username"));
    }

    #[tokio::test]
    async fn export_then_import_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).await.unwrap();
        core.create_client(ClientInput {
            client_id: Some("demo".into()),
            name: Some("Demo".into()),
            redirect_uris: Some(vec!["http://127.0.0.1:5000/cb".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
        let seed = core.export().await.unwrap();
        let other = tempfile::tempdir().unwrap();
        let core2 = Core::open(other.path()).await.unwrap();
        let first = core2.import(seed.clone()).await.unwrap();
        assert_eq!(first.clients_created, 1);
        let second = core2.import(seed).await.unwrap();
        assert_eq!(second.clients_created, 0);
        assert_eq!(second.clients_updated, 1);
        assert_eq!(core2.list_clients().await.unwrap().len(), 1);
        let a = core.get_client("demo").await.unwrap();
        let b = core2.get_client("demo").await.unwrap();
        assert_eq!(a.client_secret, b.client_secret);
        // alice's sub survives an import into a store where alice exists with another sub
        assert_eq!(core2.get_user("alice").await.unwrap().username, "alice");
    }

    #[tokio::test]
    async fn a_bad_entry_in_a_seed_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).await.unwrap();
        let seed = SeedFile::parse(
            r#"
clients:
  - client_id: good
    name: Good
    redirect_uris: [http://127.0.0.1/cb]
  - client_id: bad
    name: Bad
    redirect_uris: ["not a url"]
"#,
            "test",
        )
        .unwrap();
        let err = core.import(seed).await.unwrap_err();
        assert!(
            err.to_string().contains("clients[1] (bad).redirect_uris"),
            "{err}"
        );
        assert!(core.list_clients().await.unwrap().is_empty());
    }
}
