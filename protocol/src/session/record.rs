//! A session record: the current session with a peer device plus archived earlier ones.

use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::state::{CiphertextMessage, SessionState};
use super::{DecryptError, EncryptError};
use crate::consts::ARCHIVED_STATES_MAX_LENGTH;
use crate::crypto::PublicKey;
use crate::wire::SignalMessage;

/// Every session with one peer device: the current one and up to
/// [`ARCHIVED_STATES_MAX_LENGTH`] earlier ones (newest first), which still decrypt late messages.
#[derive(Clone, Debug, Default)]
pub struct SessionRecord {
    current: Option<SessionState>,
    previous: VecDeque<SessionState>,
}

impl SessionRecord {
    /// A record with no session.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current session, if any.
    pub fn current(&self) -> Option<&SessionState> {
        self.current.as_ref()
    }

    /// A record from its parts (storage): `previous` newest first, at most
    /// [`ARCHIVED_STATES_MAX_LENGTH`] (the caller checks).
    pub(crate) fn from_parts(current: Option<SessionState>, previous: VecDeque<SessionState>) -> Self {
        Self { current, previous }
    }

    /// The archived sessions, newest first (storage).
    pub(crate) fn previous(&self) -> &VecDeque<SessionState> {
        &self.previous
    }

    /// How many archived sessions are kept.
    pub fn archived_len(&self) -> usize {
        self.previous.len()
    }

    /// Makes `state` current and archives the old current session.
    pub(crate) fn promote_state(&mut self, state: SessionState) {
        self.archive_current();
        self.current = Some(state);
    }

    /// Moves the current session to the archive (newest first), dropping the oldest beyond the
    /// bound.
    pub fn archive_current(&mut self) {
        if let Some(old) = self.current.take() {
            self.previous.push_front(old);
            self.previous.truncate(ARCHIVED_STATES_MAX_LENGTH);
        }
    }

    /// If a session from the X3DH run with this base key exists, makes it current and returns
    /// true (a repeated first message from the initiator must not start a new session).
    pub(crate) fn promote_matching_session(&mut self, alice_base_key: &PublicKey) -> bool {
        if self
            .current
            .as_ref()
            .is_some_and(|s| &s.alice_base_key == alice_base_key)
        {
            return true;
        }
        let Some(i) = self
            .previous
            .iter()
            .position(|s| &s.alice_base_key == alice_base_key)
        else {
            return false;
        };
        if let Some(state) = self.previous.remove(i) {
            self.promote_state(state);
        }
        true
    }

    /// Encrypts with the current session.
    pub(crate) fn encrypt(&mut self, plaintext: &[u8]) -> Result<CiphertextMessage, EncryptError> {
        self.current
            .as_mut()
            .ok_or(EncryptError::NoSession)?
            .encrypt(plaintext)
    }

    /// Decrypts with the current session, else with the archived ones, newest first. Only the
    /// session that decrypts is changed (and, if archived, made current), and only if `trusted`
    /// accepts its remote identity (else `UntrustedIdentity`); on failure nothing is.
    pub(crate) fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        message: &SignalMessage,
        rng: &mut R,
        trusted: impl Fn(&PublicKey) -> bool,
    ) -> Result<Vec<u8>, DecryptError> {
        let mut first_error = None;
        if let Some(current) = self.current.as_mut() {
            match current.plan_decrypt(message, rng) {
                Ok(_) if !trusted(current.remote_identity()) => return Err(DecryptError::UntrustedIdentity),
                Ok(plan) => return Ok(current.apply(plan)),
                Err(DecryptError::Duplicate) => return Err(DecryptError::Duplicate),
                Err(e) => first_error = Some(e),
            }
        }
        for i in 0..self.previous.len() {
            let Some(state) = self.previous.get_mut(i) else {
                break;
            };
            match state.plan_decrypt(message, rng) {
                Ok(_) if !trusted(state.remote_identity()) => return Err(DecryptError::UntrustedIdentity),
                Ok(plan) => {
                    let plaintext = state.apply(plan);
                    if let Some(state) = self.previous.remove(i) {
                        self.promote_state(state);
                    }
                    return Ok(plaintext);
                }
                Err(DecryptError::Duplicate) => return Err(DecryptError::Duplicate),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(DecryptError::NoSession))
    }
}
