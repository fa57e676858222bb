//! Runs remote code so that a panic becomes an error message instead of killing the engine.
//!
//! While a guarded call runs, the panic hook records the message and location in a
//! thread-local instead of printing them: the controller gets the panic as a remote error naming
//! the engine, and the engine's stderr stays quiet. Panics outside guarded calls go to the hook
//! that was installed before (the default one prints as usual).

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn install_hook() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let message = payload_message(info.payload());
                let located = match info.location() {
                    Some(l) => format!("{message} (at {}:{})", l.file(), l.line()),
                    None => message,
                };
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(located));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Runs `f`; a panic inside it comes back as `Err(message at file:line)`.
pub(crate) fn call_catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was = GUARDED.with(|g| g.replace(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    outcome.map_err(|payload| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| payload_message(payload.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_messages_with_location() {
        let r: Result<(), String> = call_catching(|| panic!("bad input {}", 3));
        let msg = r.unwrap_err();
        assert!(msg.starts_with("bad input 3 (at "), "{msg}");
        assert!(msg.contains("panic_guard.rs"), "{msg}");
        assert_eq!(call_catching(|| 5).unwrap(), 5);
    }
}
