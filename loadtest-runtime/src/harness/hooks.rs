//! The once-per-binary setup and teardown hooks given to `main!`, and the shared setup: a hook
//! declared with `main!(shared_setup = ...)` whose value is serializable, so that it can run once
//! for a whole scale-out run (`cargo loadtest setup`) and be handed to every process as JSON.

use crate::RuntimeError;
use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type Shared = Arc<dyn Any + Send + Sync>;
type SetupFn = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<Shared, String>> + Send>>>;
type TeardownFn =
    Box<dyn FnOnce(Shared) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>>;
/// A shareable hook's value to JSON, and back.
type EncodeFn = Box<dyn Fn(&Shared) -> Result<serde_json::Value, String>>;
type DecodeFn = Box<dyn Fn(serde_json::Value) -> Result<Shared, String>>;

/// How a shareable setup hook's value crosses processes.
struct Codec {
    encode: EncodeFn,
    decode: DecodeFn,
    type_name: &'static str,
}

/// The setup and teardown hooks of a harness binary (built by `main!`).
#[derive(Default)]
pub struct Hooks {
    setup_name: &'static str,
    setup: Option<SetupFn>,
    teardown_name: &'static str,
    teardown: Option<TeardownFn>,
    codec: Option<Codec>,
}

impl Hooks {
    /// No hooks.
    pub fn none() -> Hooks {
        Hooks::default()
    }

    /// A setup hook: an async function run once before the first test, whose `Ok` value tests
    /// read with `ctx.setup::<T>()`. An `Err` stops the binary with an error naming the hook.
    pub fn with_setup<F, Fut, T, E>(name: &'static str, f: F) -> Hooks
    where
        F: FnOnce() -> Fut + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Any + Send + Sync,
        E: Display,
    {
        Hooks {
            setup_name: name,
            setup: Some(Box::new(move || {
                let fut = f();
                Box::pin(async move {
                    fut.await
                        .map(|v| Arc::new(v) as Shared)
                        .map_err(|e| e.to_string())
                })
            })),
            ..Hooks::default()
        }
    }

    /// A shareable setup hook (`main!(shared_setup = ...)`): as [`Hooks::with_setup`], and its
    /// value can be serialized, so that `cargo loadtest setup` runs the hook once for a whole
    /// scale-out run and every shard reads the value instead of running the hook
    /// (`--setup-file`). Without `--setup-file` it runs in every process, as a plain setup hook.
    pub fn with_shared_setup<F, Fut, T, E>(name: &'static str, f: F) -> Hooks
    where
        F: FnOnce() -> Fut + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
        E: Display,
    {
        let mut hooks = Hooks::with_setup(name, f);
        hooks.codec = Some(Codec {
            encode: Box::new(|shared: &Shared| match shared.downcast_ref::<T>() {
                Some(value) => serde_json::to_value(value).map_err(|e| e.to_string()),
                None => Err("the setup value is not of the hook's type".to_string()),
            }),
            decode: Box::new(|json: serde_json::Value| {
                serde_json::from_value::<T>(json)
                    .map(|v| Arc::new(v) as Shared)
                    .map_err(|e| e.to_string())
            }),
            type_name: std::any::type_name::<T>(),
        });
        hooks
    }

    /// A teardown hook: an async function run once after the last test, given the setup value.
    pub fn teardown<F, Fut, T, E>(mut self, name: &'static str, f: F) -> Hooks
    where
        F: FnOnce(Arc<T>) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        T: Any + Send + Sync,
        E: Display,
    {
        self.teardown_name = name;
        self.teardown = Some(Box::new(move |shared: Shared| {
            match shared.downcast::<T>() {
                Ok(value) => {
                    let fut = f(value);
                    Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
                }
                Err(_) => {
                    Box::pin(async {
                        Err("the teardown hook's argument type differs from the setup hook's output".to_string())
                    })
                }
            }
        }));
        self
    }

    /// Runs the setup hook, if any. The error names the hook.
    pub(crate) async fn run_setup(&mut self) -> Result<Option<Shared>, RuntimeError> {
        match self.setup.take() {
            None => Ok(None),
            Some(f) => f().await.map(Some).map_err(|message| RuntimeError::Setup {
                hook: self.setup_name,
                message,
            }),
        }
    }

    /// The setup hook's name, when there is one.
    pub(crate) fn setup_hook(&self) -> Option<&'static str> {
        self.setup.as_ref().map(|_| self.setup_name)
    }

    /// The teardown hook's name, when there is one.
    pub(crate) fn teardown_hook(&self) -> Option<&'static str> {
        self.teardown.as_ref().map(|_| self.teardown_name)
    }

    /// Why this binary's setup cannot be shared (`Err`, naming the hook and what is accepted),
    /// or `Ok` when it can: its hook was declared with `shared_setup`.
    pub(crate) fn check_shareable(&self) -> Result<(), String> {
        match (&self.setup, &self.codec) {
            (Some(_), Some(_)) => Ok(()),
            (Some(_), None) => Err(format!(
                "the setup hook `{}` is not shareable: it was declared with `main!(setup = {0})`; declare it with `main!(shared_setup = {0})` (its value must implement Serialize + DeserializeOwned + Send + Sync) to run it once for the whole run, or run without --setup-file to run it in every process",
                self.setup_name
            )),
            (None, _) => Err(
                "this harness has no setup hook, so there is no setup value to give it (`main!()` without `shared_setup`)".to_string(),
            ),
        }
    }

    /// Runs the shareable setup hook and returns its name and its value as JSON (`None`: no
    /// setup hook). The name comes with the value because running the hook consumes it
    /// ([`Hooks::setup_hook`] is `None` afterwards). `Err(Ok(message))`: the hook failed;
    /// `Err(Err(message))`: it is not shareable or its value does not serialize.
    pub(crate) async fn run_shared_setup(
        &mut self,
    ) -> Result<Option<(&'static str, serde_json::Value)>, Result<String, String>> {
        if self.setup.is_none() {
            return Ok(None);
        }
        self.check_shareable().map_err(Err)?;
        let shared = match self.run_setup().await {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(None),
            Err(e) => return Err(Ok(e.to_string())),
        };
        let codec = self.codec.as_ref().expect("checked shareable");
        (codec.encode)(&shared)
            .map(|value| Some((self.setup_name, value)))
            .map_err(|e| {
                Err(format!(
                    "the value of the setup hook `{}` ({}) does not serialize to JSON: {e}",
                    self.setup_name, codec.type_name
                ))
            })
    }

    /// The setup value given as JSON (by `cargo loadtest setup` through `--setup-file`), as the
    /// hook's type. The error names the hook, its type and what was wrong.
    pub(crate) fn adopt(&self, json: serde_json::Value) -> Result<Shared, String> {
        self.check_shareable()?;
        let codec = self.codec.as_ref().expect("checked shareable");
        (codec.decode)(json).map_err(|e| {
            format!(
                "the shared setup value given for the setup hook `{}` does not deserialize as its type {}: {e}; write the setup file again with `cargo loadtest setup` from the same binaries",
                self.setup_name, codec.type_name
            )
        })
    }

    /// Runs the teardown hook, if any. The error names the hook.
    pub(crate) async fn run_teardown(
        &mut self,
        shared: Option<Shared>,
    ) -> Result<(), RuntimeError> {
        match (self.teardown.take(), shared) {
            (Some(f), Some(s)) => f(s).await.map_err(|message| RuntimeError::Teardown {
                hook: self.teardown_name,
                message,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Account {
        token: String,
        id: u32,
    }

    static SETUPS: AtomicU32 = AtomicU32::new(0);

    async fn sign_up() -> Result<Account, String> {
        let id = SETUPS.fetch_add(1, Ordering::SeqCst);
        Ok(Account {
            token: format!("t-{id}"),
            id,
        })
    }

    async fn plain() -> Result<Account, String> {
        Ok(Account {
            token: "p".into(),
            id: 0,
        })
    }

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_shared_setup_value_goes_to_json_and_back_as_its_type() {
        let mut hooks = Hooks::with_shared_setup("sign_up", sign_up);
        assert_eq!(hooks.setup_hook(), Some("sign_up"));
        let (hook, json) = block(hooks.run_shared_setup()).unwrap().unwrap();
        // The name comes with the value, though running the hook consumed it.
        assert_eq!(hook, "sign_up");
        let token = json["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("t-"), "{json}");
        // Another process adopts the value without running the hook.
        let before = SETUPS.load(Ordering::SeqCst);
        let other = Hooks::with_shared_setup("sign_up", sign_up);
        let shared = other.adopt(json.clone()).unwrap();
        let account = shared.downcast_ref::<Account>().unwrap();
        assert_eq!(account.token, token);
        assert_eq!(
            SETUPS.load(Ordering::SeqCst),
            before,
            "adopting ran the hook"
        );
    }

    #[test]
    fn a_value_for_a_hook_that_is_not_shareable_is_refused_naming_it() {
        let hooks = Hooks::with_setup("plain", plain);
        let e = hooks
            .adopt(serde_json::json!({"token": "p", "id": 0}))
            .err()
            .unwrap();
        assert!(
            e.contains("`plain` is not shareable")
                && e.contains("main!(shared_setup = plain)")
                && e.contains("Serialize + DeserializeOwned"),
            "{e}"
        );
        let mut hooks = Hooks::with_setup("plain", plain);
        let Err(Err(e)) = block(hooks.run_shared_setup()) else {
            panic!("a plain hook ran as a shared one")
        };
        assert!(e.contains("not shareable"), "{e}");
        let e = Hooks::none().adopt(serde_json::json!(1)).err().unwrap();
        assert!(e.contains("no setup hook"), "{e}");
        // No hook: nothing to share, and nothing runs.
        assert_eq!(block(Hooks::none().run_shared_setup()).unwrap(), None);
    }

    #[test]
    fn a_value_of_another_shape_is_refused_naming_the_type() {
        let hooks = Hooks::with_shared_setup("sign_up", sign_up);
        let e = hooks.adopt(serde_json::json!({"token": 5})).err().unwrap();
        assert!(
            e.contains("`sign_up`") && e.contains("Account") && e.contains("invalid type"),
            "{e}"
        );
    }

    #[test]
    fn a_failing_shared_hook_is_a_hook_failure() {
        async fn fails() -> Result<Account, String> {
            Err("the accounts API answered 503".into())
        }
        let mut hooks = Hooks::with_shared_setup("fails", fails);
        let Err(Ok(e)) = block(hooks.run_shared_setup()) else {
            panic!("the failure was not reported as the hook's")
        };
        assert_eq!(
            e,
            "setup hook `fails` failed: the accounts API answered 503"
        );
    }
}
