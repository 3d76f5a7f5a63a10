//! `hello`: the smallest useful Kiwi plugin — one token-protected route.
use kiwi_sdk::prelude::*;

#[derive(serde::Serialize)]
struct Greeting {
    message: String,
    tenant: String,
}

fn greet(Path(name): Path<String>, ctx: Ctx) -> Result<Json<Greeting>> {
    if name.chars().count() > 64 {
        return Err(Error::bad_request("name must be at most 64 characters"));
    }
    let tenant = ctx.tenant().to_owned();
    Ok(Json(Greeting { message: format!("hello, {name}"), tenant }))
}

pub fn plugin() -> Plugin {
    Plugin::new("hello", env!("CARGO_PKG_VERSION"))
        .description("Says hello. The example every plugin author starts from.")
        .scope("hello:read", "Call the hello plugin")
        .route(get("/greet/{name}", greet).token("hello:read").summary("Greets someone by name"))
}

kiwi_sdk::export!(plugin);
