//! [`LiveSlots`]: caps on open `/events/live` WebSockets, in all
//! ([`HttpConfig::max_live`](super::HttpConfig::max_live)) and per
//! authenticated user ([`HttpConfig::max_live_per_user`](super::HttpConfig::max_live_per_user)),
//! so that no client — and no single user — can hold the server's memory
//! with connections. Anonymous subscribers count only towards the total.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::ApiError;

/// The open live connections: in all, and per user.
#[derive(Debug, Default)]
pub(crate) struct LiveSlots {
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// One open connection's place; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<LiveSlots>,
    user: Option<String>,
}

impl LiveSlots {
    /// A place for one more connection of `user`, or 503 when the server has
    /// `max` open, 429 when `user` has `per_user`.
    pub fn take(self: &Arc<Self>, user: Option<&str>, max: usize, per_user: usize) -> Result<Slot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, users) = &mut *open;
        if *total >= max {
            return Err(ApiError::Unavailable(format!(
                "the server has its most live connections open ({max}); try again later"
            )));
        }
        if let Some(user) = user {
            let mine = users.entry(user.to_owned()).or_default();
            if *mine >= per_user {
                return Err(ApiError::TooManyRequests(format!(
                    "user `{user}` has its most live connections open ({per_user}); close one first"
                )));
            }
            *mine += 1;
        }
        *total += 1;
        Ok(Slot {
            slots: self.clone(),
            user: user.map(str::to_owned),
        })
    }

    /// Open connections in all.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, users) = &mut *open;
        *total -= 1;
        if let Some(user) = &self.user
            && let Some(mine) = users.get_mut(user)
        {
            *mine -= 1;
            if *mine == 0 {
                users.remove(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_all_and_per_user_and_frees_on_drop() {
        let slots = Arc::new(LiveSlots::default());
        let mary = slots.take(Some("mary"), 3, 2).unwrap();
        let _mary2 = slots.take(Some("mary"), 3, 2).unwrap();
        assert!(matches!(
            slots.take(Some("mary"), 3, 2),
            Err(ApiError::TooManyRequests(_))
        ));
        let _anonymous = slots.take(None, 3, 2).unwrap();
        assert!(matches!(slots.take(Some("tony"), 3, 2), Err(ApiError::Unavailable(_))));
        drop(mary);
        assert_eq!(slots.total(), 2);
        slots.take(Some("mary"), 3, 2).expect("a place again");
    }
}
