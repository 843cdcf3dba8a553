//! The once-per-binary setup and teardown hooks given to `main!`.

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

/// The setup and teardown hooks of a harness binary (built by `main!`).
#[derive(Default)]
pub struct Hooks {
    setup_name: &'static str,
    setup: Option<SetupFn>,
    teardown_name: &'static str,
    teardown: Option<TeardownFn>,
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
