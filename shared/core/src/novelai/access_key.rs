//! NovelAI's access key: email + password → the 64-character key `POST /user/login` takes.
//! The same recipe as every public client:
//!
//! 1. `pre_salt = password[..6 code points] + email + "novelai_data_access_key"`
//! 2. `salt = BLAKE2b-128(pre_salt)` (unkeyed)
//! 3. `raw = Argon2id v0x13(password, salt, t=2, m=1953 KiB, p=1, 64 bytes)`
//! 4. `key = urlsafe_base64(raw)[..64]`
//!
//! The derivation costs a few milliseconds of CPU and about 2 MB of memory: async callers
//! should run it in `tokio::task::spawn_blocking`.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use blake2::{Blake2b128, Digest};

/// The domain string appended to the pre-salt of the access key.
const ACCESS_KEY_DOMAIN: &str = "novelai_data_access_key";
/// `int(2000000 / 1024)` KiB, as the reference clients compute it.
const M_COST_KIB: u32 = 2_000_000 / 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const HASH_LEN: usize = 64;
/// Length of the key sent to `/user/login`.
pub const ACCESS_KEY_LEN: usize = 64;

/// The BLAKE2b-128 salt of the access key derivation.
fn salt(email: &str, password: &str) -> [u8; 16] {
    let head: String = password.chars().take(6).collect();
    let mut hasher = Blake2b128::new();
    hasher.update(head.as_bytes());
    hasher.update(email.as_bytes());
    hasher.update(ACCESS_KEY_DOMAIN.as_bytes());
    hasher.finalize().into()
}

/// Derives the NovelAI access key for an email and password.
///
/// The email is used exactly as given: NovelAI's key depends on its case. Callers that want
/// the web client's behaviour pass it through [`normalise_email`] first.
pub fn access_key(email: &str, password: &str) -> String {
    let salt = salt(email, password);
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(HASH_LEN))
        .expect("constant Argon2 parameters are valid");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut raw = [0u8; HASH_LEN];
    // Cannot fail: the salt is 16 bytes, the output 64, and passwords are far below 4 GiB.
    argon
        .hash_password_into(password.as_bytes(), &salt, &mut raw)
        .expect("Argon2 accepts these inputs");
    let mut key = base64::engine::general_purpose::URL_SAFE.encode(raw);
    key.truncate(ACCESS_KEY_LEN);
    key
}

/// The email as the NovelAI web client sends it into the derivation: trimmed and
/// lower-cased (accounts created on the website have lower-case keys; LlmKira's client does
/// the same since v0.7.12).
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published test vectors (argon2-cffi 25.1.0, email as given).
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
        (
            "short@example.net",
            "abc",
            "L6LgyD5lGRzE03jJiLUl75-XaZN8520zQjrjV6VOpWCJdEExwLg8B5MPyDbVUbLw",
        ),
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
        (
            "unicode@example.jp",
            "пароль密码🔑xyz",
            "xFKw2EzutNndF0B9-DuwXr9skbCnZ8rmAY_TI8LIlU1L8Ezh3n4m6WuSNjYKBJiS",
        ),
    ];

    #[test]
    fn every_documented_vector_is_reproduced() {
        for (email, password, expected) in VECTORS {
            let key = access_key(email, password);
            assert_eq!(key.len(), ACCESS_KEY_LEN);
            assert_eq!(&key, expected, "{email}");
        }
    }

    #[test]
    fn vector_1_salt() {
        let hex: String = salt("xxxx@yyyy.zzz", "hogehero")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "b01228e5d8758813eae90aad4e9bdf2e");
    }

    #[test]
    fn the_pre_salt_takes_six_code_points_not_bytes() {
        // "пароль" is 6 code points but 12 bytes: a byte slice would cut it differently.
        assert_eq!(
            salt("unicode@example.jp", "пароль密码🔑xyz"),
            salt("unicode@example.jp", "парольXXXXX")
        );
        assert_ne!(
            salt("unicode@example.jp", "пароль"),
            salt("unicode@example.jp", "парол")
        );
    }

    #[test]
    fn email_case_matters_and_normalising_gives_the_web_key() {
        let (typed, password) = ("Bob.Smith@Example.COM", "Pa$$w0rd!");
        assert_ne!(
            access_key(typed, password),
            access_key(&normalise_email(typed), password)
        );
        assert_eq!(
            normalise_email("  Bob.Smith@Example.COM \n"),
            "bob.smith@example.com"
        );
        assert_eq!(access_key(&normalise_email(typed), password), VECTORS[5].2);
    }
}
