//! The emulator's NextTokens: a payload (a cursor and what it is bound to) sealed with a secret of
//! this emulator, so that a token from another run, or an edited one, is refused. LookupEvents'
//! and Lake's paged lists use the same seal.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug)]
pub struct Sealer {
    secret: u64,
}

impl Sealer {
    pub fn new(secret: u64) -> Self {
        Sealer { secret }
    }

    fn mac(&self, payload: &str) -> String {
        format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64_with_seed(payload.as_bytes(), self.secret)
        )
    }

    /// An opaque token carrying `payload`.
    pub fn seal(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{payload}|{}", self.mac(payload)))
    }

    /// The payload of a token this emulator sealed; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<String> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let (payload, mac) = text.rsplit_once('|')?;
        (self.mac(payload) == mac).then(|| payload.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_tokens_open() {
        let sealer = Sealer::new(7);
        let token = sealer.seal("q|1000");
        assert_eq!(sealer.open(&token).as_deref(), Some("q|1000"));
        assert_eq!(Sealer::new(8).open(&token), None);
        assert_eq!(sealer.open("bm90LWEtdG9rZW4"), None);
        let forged = URL_SAFE_NO_PAD.encode("q|2000|0000000000000000");
        assert_eq!(sealer.open(&forged), None);
    }
}
