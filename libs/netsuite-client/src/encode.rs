//! RFC 3986 percent-encoding as OAuth 1.0a (RFC 5849 §3.6) and NetSuite require it.

/// Percent-encodes `input`, keeping only the RFC 3986 unreserved characters
/// (`A–Z a–z 0–9 - . _ ~`) and writing every other byte as `%XX` with uppercase hex.
///
/// This is PHP's `rawurlencode`, the encoding NetSuite's help pages use: a space becomes
/// `%20`, never `+`.
pub fn percent_encode(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(input.len());
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unreserved_characters_and_encodes_the_rest_in_uppercase_hex() {
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(percent_encode("a b+c/d=e&f"), "a%20b%2Bc%2Fd%3De%26f");
        assert_eq!(percent_encode("*"), "%2A");
    }

    #[test]
    fn encodes_multibyte_characters_byte_by_byte() {
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("€"), "%E2%82%AC");
    }
}
