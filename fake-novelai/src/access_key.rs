//! NovelAI's access key: what `POST /user/login` takes instead of an email and password.
//! Every public client derives it with the same recipe:
//!
//! 1. `pre_salt = first 6 code points of the password + email + "novelai_data_access_key"`
//!    (UTF-8);
//! 2. `salt = BLAKE2b(pre_salt)` with a 16-byte digest, unkeyed;
//! 3. `raw = Argon2id v0x13(password, salt, t = 2, m = 2000000 / 1024 = 1953 KiB, p = 1)`,
//!    64 bytes;
//! 4. `key = URL-safe base64(raw)` (`-_` alphabet, padded) cut to its first 64 characters.
//!
//! The email goes in as given: its case changes the key. The website lower-cases it, so
//! the fake accepts the key of the email as given and of [`normalise_email`].

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use blake2::{Blake2b128, Digest};

const DOMAIN: &str = "novelai_data_access_key";
const M_COST_KIB: u32 = 2_000_000 / 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const RAW_LEN: usize = 64;
/// The length of an access key.
pub const KEY_LEN: usize = 64;

fn salt(email: &str, password: &str) -> [u8; 16] {
    let head: String = password.chars().take(6).collect();
    Blake2b128::new()
        .chain_update(head.as_bytes())
        .chain_update(email.as_bytes())
        .chain_update(DOMAIN.as_bytes())
        .finalize()
        .into()
}

/// The access key of an email (as given) and password. A few milliseconds of CPU and
/// about 2 MB of memory.
pub fn access_key(email: &str, password: &str) -> String {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(RAW_LEN))
        .expect("the recipe's Argon2 parameters are valid");
    let mut raw = [0u8; RAW_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &salt(email, password), &mut raw)
        .expect("Argon2 takes a 16-byte salt, a 64-byte output and any password under 4 GiB");
    let mut key = base64::engine::general_purpose::URL_SAFE.encode(raw);
    key.truncate(KEY_LEN);
    key
}

/// The email as the website feeds it to the derivation: trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NovelAI's published test vectors (computed with argon2-cffi, email as given).
    const VECTORS: &[(&str, &str, &str)] = &[
        (
            "xxxx@yyyy.zzz",
            "hogehero",
            "vtQmbCKY3JMbibT54ctxmAaAL-nZOK5BLVMSmF4M75yasKIKKPconLnx_L0ybh3P",
        ),
        (
            "test@example.com",
            "password123",
            "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu",
        ),
        (
            "alice@example.org",
            "correct horse battery staple",
            "KD-BmAqk7X4wck7LHmvAqyWy7jVqzoBncGWIQ3ktMTFiMWGwGPvzNJc102PEyztu",
        ),
        // A password shorter than the 6-code-point head.
        (
            "short@example.net",
            "abc",
            "L6LgyD5lGRzE03jJiLUl75-XaZN8520zQjrjV6VOpWCJdEExwLg8B5MPyDbVUbLw",
        ),
        // The same account typed with capitals, and lower-cased.
        (
            "Bob.Smith@Example.COM",
            "Pa$$w0rd!",
            "OZuc0d0yagUPg7jZP4SS1uDbVUJ2h2hmgsuzBP8Frkyn4dJZKlxrOR0XdMgJARJn",
        ),
        (
            "bob.smith@example.com",
            "Pa$$w0rd!",
            "rxokLBB6ohUcXnkC91m-kbQ3r2lNI0k-LWBAbREHROm2KJTMdFfMWPVjKiTPIphf",
        ),
        // Multi-byte code points in the head: 6 code points, not 6 bytes.
        (
            "unicode@example.jp",
            "пароль密码🔑xyz",
            "xFKw2EzutNndF0B9-DuwXr9skbCnZ8rmAY_TI8LIlU1L8Ezh3n4m6WuSNjYKBJiS",
        ),
    ];

    #[test]
    fn every_published_vector_is_reproduced() {
        for (email, password, expected) in VECTORS {
            let key = access_key(email, password);
            assert_eq!(key.len(), KEY_LEN);
            assert_eq!(&key, expected, "{email}");
        }
    }

    #[test]
    fn the_first_vectors_salt_is_the_published_one() {
        let hex: String = salt("xxxx@yyyy.zzz", "hogehero")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "b01228e5d8758813eae90aad4e9bdf2e");
    }

    #[test]
    fn the_website_form_of_an_email_gives_the_lower_case_vector() {
        assert_eq!(
            normalise_email("  Bob.Smith@Example.COM "),
            "bob.smith@example.com"
        );
        assert_eq!(
            access_key(&normalise_email("Bob.Smith@Example.COM"), "Pa$$w0rd!"),
            VECTORS[5].2
        );
    }
}
