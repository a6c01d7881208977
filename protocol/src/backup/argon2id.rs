//! Argon2id (RFC 9106, version 0x13) from the `argon2` crate, with the cost bounds a backup
//! header may carry.

use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};

use crate::crypto::Secret;

/// Argon2id cost parameters, as a backup header stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    /// Memory, in KiB (RFC 9106 `m`).
    pub m_cost_kib: u32,
    /// Passes over memory (RFC 9106 `t`).
    pub t_cost: u32,
    /// Lanes (RFC 9106 `p`).
    pub p_cost: u32,
}

impl Argon2Params {
    /// What new backups use: RFC 9106 §4's second recommended option (64 MiB, 3 passes, 4 lanes),
    /// for devices that cannot spare the first option's 2 GiB.
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 4,
    };

    /// The weakest parameters a restore accepts (OWASP's minimum for Argon2id: 19 MiB, 2 passes,
    /// 1 lane). Anything weaker is refused before any work, so a hostile store cannot steer a
    /// client into deriving (and then relying on) a cheaply guessable key.
    pub const FLOOR: Self = Self {
        m_cost_kib: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };

    /// The costliest parameters a restore accepts (1 GiB, 16 passes, 16 lanes), so a hostile
    /// header cannot make a restore allocate more than 1 GiB or run for minutes.
    pub const CEILING: Self = Self {
        m_cost_kib: 1024 * 1024,
        t_cost: 16,
        p_cost: 16,
    };

    /// Checks these parameters against [`Self::FLOOR`] and [`Self::CEILING`].
    pub fn check(&self) -> Result<(), ParamsError> {
        let floor = Self::FLOOR;
        let ceiling = Self::CEILING;
        if self.m_cost_kib < floor.m_cost_kib || self.t_cost < floor.t_cost || self.p_cost < floor.p_cost {
            return Err(ParamsError::Weak);
        }
        if self.m_cost_kib > ceiling.m_cost_kib
            || self.t_cost > ceiling.t_cost
            || self.p_cost > ceiling.p_cost
        {
            return Err(ParamsError::TooCostly);
        }
        Ok(())
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why Argon2 parameters are out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// Below [`Argon2Params::FLOOR`] in at least one cost.
    #[error("Argon2id parameters below tandem's floor")]
    Weak,
    /// Above [`Argon2Params::CEILING`] in at least one cost.
    #[error("Argon2id parameters above tandem's ceiling")]
    TooCostly,
}

/// Why the `argon2` crate refused an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Argon2Error {
    /// Parameters or input lengths the algorithm does not allow (RFC 9106 §3.1: salt of at
    /// least 8 bytes, memory at least 8·p KiB, …; the crate also caps associated data at 32
    /// bytes), or memory that could not be allocated.
    #[error("Argon2id refused its input: {0}")]
    Refused(&'static str),
}

/// Argon2id version 0x13 with a 32-byte tag: `password` and `salt` as RFC 9106 names them,
/// optional `secret` (K) and associated data (X), empty when not used. No bounds other than
/// the algorithm's own are checked here ([`Argon2Params::check`] is the backup's policy).
pub fn argon2id(
    password: &[u8],
    salt: &[u8],
    params: &Argon2Params,
    secret: &[u8],
    associated_data: &[u8],
) -> Result<Secret<32>, Argon2Error> {
    let data = AssociatedData::new(associated_data).map_err(|_| Argon2Error::Refused("associated data"))?;
    let built = ParamsBuilder::new()
        .m_cost(params.m_cost_kib)
        .t_cost(params.t_cost)
        .p_cost(params.p_cost)
        .data(data)
        .output_len(32)
        .build()
        .map_err(|_| Argon2Error::Refused("parameters"))?;
    let context = if secret.is_empty() {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, built)
    } else {
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, built)
            .map_err(|_| Argon2Error::Refused("secret"))?
    };
    let mut out = Secret::new([0u8; 32]);
    context
        .hash_password_into(password, salt, out.expose_mut())
        .map_err(|_| Argon2Error::Refused("input"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9106 §5.3 (Argon2id, version 0x13).
    #[test]
    fn rfc9106_section_5_3() {
        let params = Argon2Params {
            m_cost_kib: 32,
            t_cost: 3,
            p_cost: 4,
        };
        let tag = argon2id(&[1; 32], &[2; 16], &params, &[3; 8], &[4; 12]).unwrap();
        let want = [
            0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53, 0xc9,
            0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59,
        ];
        assert_eq!(tag.expose(), &want);
    }

    #[test]
    fn bounds() {
        assert_eq!(Argon2Params::DEFAULT.check(), Ok(()));
        assert_eq!(Argon2Params::FLOOR.check(), Ok(()));
        assert_eq!(Argon2Params::CEILING.check(), Ok(()));
        let f = Argon2Params::FLOOR;
        for weak in [
            Argon2Params {
                m_cost_kib: f.m_cost_kib - 1,
                ..f
            },
            Argon2Params { t_cost: 1, ..f },
            Argon2Params { p_cost: 0, ..f },
        ] {
            assert_eq!(weak.check(), Err(ParamsError::Weak));
        }
        let c = Argon2Params::CEILING;
        for costly in [
            Argon2Params {
                m_cost_kib: c.m_cost_kib + 1,
                ..c
            },
            Argon2Params {
                t_cost: c.t_cost + 1,
                ..c
            },
            Argon2Params {
                p_cost: c.p_cost + 1,
                ..c
            },
        ] {
            assert_eq!(costly.check(), Err(ParamsError::TooCostly));
        }
    }

    #[test]
    fn short_salt_is_refused() {
        let p = Argon2Params {
            m_cost_kib: 32,
            t_cost: 1,
            p_cost: 1,
        };
        assert!(argon2id(b"pw", &[0; 7], &p, &[], &[]).is_err());
        assert!(argon2id(b"pw", &[0; 8], &p, &[], &[]).is_ok());
    }
}
