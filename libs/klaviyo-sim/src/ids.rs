//! Seeded randomness: identifiers that look like Klaviyo's and fault decisions, both
//! reproducible from one seed.

/// A SplitMix64 generator: tiny, fast and good enough for ids and fault dice.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a float in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Returns an index in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A 26-character ULID-like id (48-bit millisecond time, 80 random bits), the shape
    /// of Klaviyo's profile and job ids.
    pub(crate) fn ulid(&mut self, unix_ms: i64) -> String {
        let time = (unix_ms.max(0) as u128) & ((1 << 48) - 1);
        let random = ((self.next_u64() as u128) << 16 | (self.next_u64() as u128 & 0xFFFF)) & ((1 << 80) - 1);
        let value = time << 80 | random;
        (0..26)
            .rev()
            .map(|i| CROCKFORD[((value >> (i * 5)) & 0x1F) as usize] as char)
            .collect()
    }

    /// A 6-character mixed-case id, the shape of Klaviyo's list, segment and metric ids.
    pub(crate) fn short_id(&mut self) -> String {
        (0..6).map(|_| ALNUM[self.below(ALNUM.len())] as char).collect()
    }

    /// A random UUID v4 string, as Klaviyo puts in `errors[].id`.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_ids() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.ulid(1_700_000_000_000), b.ulid(1_700_000_000_000));
        assert_eq!(a.short_id(), b.short_id());
    }

    #[test]
    fn ulid_is_26_crockford_characters() {
        let id = Rng::new(1).ulid(1_700_000_000_000);
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|c| CROCKFORD.contains(&c)));
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let id = Rng::new(3).uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
