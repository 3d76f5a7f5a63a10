//! Access-JWT verification cost (the signature/claims half of `verify_access`;
//! the session check is a DashMap lookup on top).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kiwi_host::accounts::jwt::{ACCESS_TTL_SECS, Claims, JwtKey, TYP_ACCESS};

fn bench(c: &mut Criterion) {
    let key = JwtKey::new(&[7u8; 32]);
    let now = 1_800_000_000;
    let token = key.sign(&Claims {
        sub: "usr_0123456789abcdef01234567".into(),
        sid: "ses_0123456789abcdef01234567".into(),
        ver: 3,
        iat: now,
        exp: now + ACCESS_TTL_SECS,
        typ: TYP_ACCESS.into(),
    });
    c.bench_function("jwt_verify", |b| b.iter(|| key.verify(black_box(&token), black_box(now))));
    let mut forged = token.clone();
    forged.pop();
    forged.push('A');
    c.bench_function("jwt_verify_bad_signature", |b| b.iter(|| key.verify(black_box(&forged), black_box(now))));
    c.bench_function("jwt_sign", |b| {
        let claims = Claims {
            sub: "usr_0123456789abcdef01234567".into(),
            sid: "ses_0123456789abcdef01234567".into(),
            ver: 3,
            iat: now,
            exp: now + ACCESS_TTL_SECS,
            typ: TYP_ACCESS.into(),
        };
        b.iter(|| key.sign(black_box(&claims)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
